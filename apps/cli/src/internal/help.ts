import { CliConfig, Command, CommandDescriptor, HelpDoc, Usage } from "@effect/cli"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as Doc from "@effect/printer/Doc"
import { HashMap, Option } from "effect"

/** What `hasColors` needs to know about the output (a `tty.WriteStream` has it; a pipe does not). */
export interface HelpOutput {
  readonly isTTY?: boolean
  readonly hasColors?: (env?: NodeJS.ProcessEnv) => boolean
}

/**
 * Whether help may carry ANSI colours: only on a terminal that supports them, as Node judges it
 * (`NO_COLOR`, `NODE_DISABLE_COLORS`, `TERM=dumb` turn them off); `FORCE_COLOR=1` turns them on
 * even for a pipe, `FORCE_COLOR=0` off everywhere.
 */
export const helpInColor = (output: HelpOutput, env: NodeJS.ProcessEnv = process.env): boolean => {
  if (output.isTTY === true && typeof output.hasColors === "function") return output.hasColors(env)
  const force = env.FORCE_COLOR
  return force !== undefined && !["0", "false"].includes(force.toLowerCase())
}

/**
 * The `--help` text of `command` or of one of its subcommands, laid out as @effect/cli lays it out
 * (title, version, usage, then the command's own help), except that a subcommand's usage line
 * names the whole command (`$ skyward run ...`, where @effect/cli prints `$ run ...`), and that
 * it is plain text unless `color`.
 */
export const helpText = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  options: { readonly name: string; readonly version: string; readonly subcommand?: string | undefined; readonly color: boolean }
): string => {
  const config = CliConfig.defaultConfig
  const sub = options.subcommand === undefined ? Option.none() : HashMap.get(Command.getSubcommands(command), options.subcommand)
  const usage = Option.match(sub, {
    onNone: () => Command.getUsage(command),
    onSome: (descriptor) => Usage.concat(Usage.named([options.name], Option.none()), CommandDescriptor.getUsage(descriptor))
  })
  const help = Option.match(sub, {
    onNone: () => Command.getHelp(command, config),
    onSome: (descriptor) => CommandDescriptor.getHelp(descriptor, config)
  })
  const doc = [
    HelpDoc.p(`${options.name} ${options.version}`),
    HelpDoc.h1("USAGE"),
    ...Usage.enumerate(usage, config).map((span) => HelpDoc.p(Span.concat(Span.text("$ "), span))),
    help
  ].reduce((doc, next) => HelpDoc.sequence(doc, next), HelpDoc.h1(Span.code(options.name)))
  return options.color ? HelpDoc.toAnsiText(doc) : Doc.render(Doc.unAnnotate(HelpDoc.toAnsiDoc(doc)), { style: "pretty" })
}
