import { createRequire } from "node:module"
import { Command, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { downCommand } from "./commands/down.js"
import { lsCommand } from "./commands/ls.js"
import { exitCode, RUN_FLAGS, runCommand, scriptArgs } from "./commands/run.js"
import { UsageError } from "./errors.js"

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string }

/** The `skyward` command and its subcommands (the docs' CLI reference is generated from this). */
export const skyward = Command.make("skyward").pipe(
  Command.withDescription("Run Python work on a pool of machines."),
  Command.withSubcommands([runCommand, lsCommand, downCommand])
)

const VALUED = new Set(RUN_FLAGS.valued)
const KNOWN = new Set([...RUN_FLAGS.valued, ...RUN_FLAGS.switches, "--help", "-h", "--version", "--wizard", "--completions", "--log-level"])

/**
 * Splits `skyward run [options] script.py [script args...]`: everything after the script path
 * belongs to the script, not to us. An unknown option before it is a UsageError.
 */
export const splitScriptArgs = (args: ReadonlyArray<string>): { readonly ours: string[]; readonly theirs: string[] } => {
  const run = args.indexOf("run")
  if (run < 0) return { ours: [...args], theirs: [] }
  for (let i = run + 1; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") return { ours: [...args.slice(0, i), ...args.slice(i + 1, i + 2)], theirs: args.slice(i + 2) }
    if (arg.startsWith("-")) {
      const flag = arg.split("=")[0]!
      if (!KNOWN.has(flag)) throw new UsageError({ message: `unknown option ${flag} (see skyward run --help)` })
      if (VALUED.has(arg)) i++
      continue
    }
    return { ours: args.slice(0, i + 1), theirs: args.slice(i + 1) }
  }
  return { ours: [...args], theirs: [] }
}

const describe = (error: unknown): string => {
  const e = error as { message?: unknown; _tag?: unknown }
  return typeof e?.message === "string" && e.message !== "" ? e.message : String(e?._tag ?? error)
}

const USAGE_TAGS = new Set(["UsageError", "ConfigError", "PluginError"])

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
  scriptArgs.value = theirs
  const program = Command.run(skyward, { name: "skyward", version })([...argv.slice(0, 2), ...ours]).pipe(
    Effect.provide(NodeContext.layer)
  )
  const fiber = Effect.runFork(program)
  let interrupted = false
  const onSignal = () => {
    interrupted = true
    Effect.runFork(Fiber.interrupt(fiber))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const exit = await Effect.runPromise(Fiber.await(fiber))
  process.off("SIGINT", onSignal)
  process.off("SIGTERM", onSignal)
  if (Exit.isSuccess(exit)) return interrupted ? 130 : exitCode.value
  if (interrupted || Cause.isInterruptedOnly(exit.cause)) return 130
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (ValidationError.isValidationError(error)) return 2 // @effect/cli already printed it
    process.stderr.write(`skyward: ${describe(error)}\n`)
    return USAGE_TAGS.has(String((error as { _tag?: unknown })._tag)) ? 2 : 1
  }
  process.stderr.write(`skyward: internal error: ${Cause.pretty(exit.cause)}\n`)
  return 1
}
