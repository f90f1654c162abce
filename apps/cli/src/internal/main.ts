import { createRequire } from "node:module"
import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Effect, Exit, Fiber, HashMap, Option } from "effect"
import { HELP_ALL, makeArgvCheck, validationMessage } from "./argv.js"
import { attachCommand } from "./commands/attach.js"
import { cacheCommand } from "./commands/cache.js"
import { downCommand } from "./commands/down.js"
import { lsCommand } from "./commands/ls.js"
import { exitCode, runCommand, scriptArgs } from "./commands/run.js"
import { upArgs, upCommand } from "./commands/up.js"
import { scriptEnded } from "./client-script.js"
import { commandHelp, SKYWARD_DESCRIPTION } from "./command-help.js"
import { helpInColor } from "./help.js"
import { interruptedLine, interruption } from "./interruption.js"
import { signalExitCode } from "./signals.js"

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string }

/** The `skyward` command and its subcommands (the docs' CLI reference is generated from this). */
export const skyward = Command.make("skyward").pipe(
  Command.withDescription(SKYWARD_DESCRIPTION),
  Command.withSubcommands([runCommand, upCommand, lsCommand, downCommand, attachCommand, cacheCommand])
)

const checkArgs = makeArgvCheck(skyward, { name: "skyward", passThrough: ["run"] })

/**
 * Splits `skyward run [options] script.py [script args...]`: everything after the script path
 * belongs to the script, not to us. An unknown option, a value of the wrong type or a missing
 * value before it is a UsageError naming the option (see ./argv.ts).
 */
export const splitScriptArgs = (args: ReadonlyArray<string>): { readonly ours: string[]; readonly theirs: string[] } => checkArgs(args)

const describe = (error: unknown): string => {
  const e = error as { message?: unknown; _tag?: unknown }
  return typeof e?.message === "string" && e.message !== "" ? e.message : String(e?._tag ?? error)
}

const USAGE_TAGS = new Set(["UsageError", "ConfigError", "PluginError", "WorkdirTooLarge"])

const SUBCOMMANDS = new Set(HashMap.keys(Command.getSubcommands(skyward)))
const isHelpFlag = (arg: string | undefined) => arg === "--help" || arg === "-h" || arg === HELP_ALL

/** Built-in options that do something else than help when no command is given. */
const OTHER_ACTIONS = new Set(["--version", "--completions", "--wizard"])

/**
 * Whose help the (checked) arguments ask for: a subcommand's (`run --help`; the check leaves
 * `<command> --help` at the end), the top command's (no command: `skyward`, `skyward --help`),
 * or nobody's.
 */
const helpRequest = (ours: ReadonlyArray<string>): { readonly subcommand: string | undefined; readonly all: boolean } | undefined => {
  if (isHelpFlag(ours.at(-1)) && SUBCOMMANDS.has(ours.at(-2) ?? "")) return { subcommand: ours.at(-2), all: ours.at(-1) === HELP_ALL }
  if (ours.some((arg) => SUBCOMMANDS.has(arg))) return undefined
  return ours.some(isHelpFlag) || !ours.some((arg) => OTHER_ACTIONS.has(arg.split("=")[0]!)) ? { subcommand: undefined, all: false } : undefined
}

/** Columns help wraps at: the terminal's (60 to 120), or 100 through a pipe. */
const helpWidth = (): number => Math.max(60, Math.min(process.stdout.isTTY ? process.stdout.columns : 100, 120))

/** Runs the CLI on `argv` (process.argv shape); resolves to the process exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  let split: ReturnType<typeof splitScriptArgs>
  try {
    split = splitScriptArgs(argv.slice(2))
  } catch (error) {
    process.stderr.write(`skyward: ${describe(error)}\n`)
    return 2
  }
  const { ours, theirs } = split
  // help is printed here rather than by @effect/cli (./command-help.ts): short and ordered by use,
  // from the commands' option tables, and without colours when stdout is not a terminal (or NO_COLOR is set)
  const help = helpRequest(ours)
  if (help !== undefined) {
    const color = helpInColor(process.stdout)
    process.stdout.write(`${commandHelp(skyward, { subcommand: help.subcommand, version }, { all: help.all, color, width: helpWidth() })}\n`)
    return 0
  }
  scriptArgs.value = theirs
  upArgs.value = ours
  // @effect/cli prints its parse errors itself, in several lines: silence that (only while it
  // parses; the commands get the real console back) and print one `skyward:` line below instead
  const program = Effect.flatMap(Effect.console, (console) => {
    const parsing = { ...console, error: () => Effect.void, unsafe: { ...console.unsafe, error: () => {} } }
    const app = Command.transformHandler(skyward, (handler) => Effect.withConsole(handler, console))
    return Command.run(app, { name: "skyward", version })([...argv.slice(0, 2), ...ours]).pipe(Effect.withConsole(parsing))
  }).pipe(Effect.provide(NodeContext.layer))
  scriptEnded.code = undefined
  const fiber = Effect.runFork(program)
  // the exit code a signal sets: 128 + its number, or the script's own when it ended before the signal
  let signalled: number | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    signalled ??= scriptEnded.code ?? signalExitCode(signal)
    interruption.signal ??= signal
    Effect.runFork(Fiber.interrupt(fiber))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const exit = await Effect.runPromise(Fiber.await(fiber))
  process.off("SIGINT", onSignal)
  process.off("SIGTERM", onSignal)
  if (signalled !== undefined) {
    // one line for a Ctrl-C: what was stopped, or what went wrong while stopping
    const failure = Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? Cause.failureOption(exit.cause) : Option.none()
    process.stderr.write(`skyward: ${interruptedLine(undefined, Option.isSome(failure) ? describe(failure.value) : undefined)}\n`)
    return signalled
  }
  if (Exit.isSuccess(exit)) return exitCode.value
  if (Cause.isInterruptedOnly(exit.cause)) return signalExitCode("SIGINT")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (ValidationError.isValidationError(error)) {
      process.stderr.write(`skyward: ${validationMessage(error)}\n`)
      return 2
    }
    process.stderr.write(`skyward: ${describe(error)}\n`)
    return USAGE_TAGS.has(String((error as { _tag?: unknown })._tag)) ? 2 : 1
  }
  process.stderr.write(`skyward: internal error: ${Cause.pretty(exit.cause)}\n`)
  return 1
}
