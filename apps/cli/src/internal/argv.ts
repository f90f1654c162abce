import fs from "node:fs"
import { BuiltInOptions, Command, CommandDescriptor, HelpDoc, Options, Usage, type ValidationError } from "@effect/cli"
import { Either, HashMap, Option, Schema } from "effect"
import { UsageError } from "./errors.js"

/**
 * The command line checked before @effect/cli parses it, so that a wrong option names itself:
 * @effect/cli's own messages ("'two' is not a integer") do not say which flag carried the value.
 * The flags, their value types and the positional arguments come from the commands' own usage
 * (the same definitions as `--help` and docs/cli.md), and values are checked with the same
 * rules @effect/cli applies, so what passes here parses there.
 */

/** A flag of a command, as its usage shows it. */
export interface Flag {
  /** The long name, e.g. `--nodes`. */
  readonly name: string
  /** What the flag takes as @effect/cli shows it (`integer`, `float`, `text`, `file`, `a | b`); none for a switch. */
  readonly accepts: string | undefined
  /** Whether the flag may be given more than once. */
  readonly repeatable: boolean
}

/** The flags (by every name) and positional arguments of one command. */
export interface CommandLine {
  readonly flags: ReadonlyMap<string, Flag>
  readonly positionals: ReadonlyArray<{ readonly name: string; readonly required: boolean; readonly repeatable: boolean }>
}

const collect = (
  usage: Usage.Usage,
  into: { flags: Map<string, Flag>; positionals: Array<CommandLine["positionals"][number]> },
  optional = false,
  repeatable = false
): void => {
  switch (usage._tag) {
    case "Named": {
      if (usage.names.length > 0 && usage.names.every((n) => n.startsWith("-"))) {
        const name = usage.names.find((n) => n.startsWith("--")) ?? usage.names[0]!
        const flag: Flag = { name, accepts: Option.getOrUndefined(usage.acceptedValues), repeatable }
        for (const n of usage.names) into.flags.set(n, flag)
      } else if (usage.names[0]?.startsWith("<")) {
        into.positionals.push({ name: usage.names[0], required: !optional && !repeatable, repeatable })
      }
      return
    }
    case "Optional":
      return collect(usage.usage, into, true, repeatable)
    case "Repeated":
      return collect(usage.usage, into, optional, true)
    case "Concat":
    case "Alternation":
      collect(usage.left, into, optional, repeatable)
      collect(usage.right, into, optional, repeatable)
      return
    default:
      return
  }
}

/** The flags and positional arguments a usage describes (plus `extra` flags, e.g. the built-in ones). */
export const commandLineOf = (usage: Usage.Usage, extra?: CommandLine): CommandLine => {
  const into = { flags: new Map(extra?.flags ?? []), positionals: [] as Array<CommandLine["positionals"][number]> }
  collect(usage, into)
  return into
}

// the same decoders @effect/cli's Options.integer / Options.float use
const isInteger = Schema.is(Schema.Int)
const decodeNumber = Schema.decodeUnknownEither(Schema.NumberFromString)
const TRUE_OR_FALSE = new Set(["true", "1", "y", "yes", "on", "false", "0", "n", "no", "off"])

const choicesOf = (accepts: string): ReadonlyArray<string> | undefined => (accepts.includes(" | ") ? accepts.split(" | ") : undefined)

const orList = (items: ReadonlyArray<string>) => (items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`)

/** What a flag expects, for a message: `an integer`, `local, ssh or aws`; nothing for free text. */
export const expected = (accepts: string): string | undefined => {
  const choices = choicesOf(accepts)
  if (choices) return orList(choices)
  switch (accepts) {
    case "text":
      return undefined
    case "integer":
      return "an integer"
    case "float":
      return "a number"
    default:
      return `a ${accepts}`
  }
}

const quote = (value: string) => JSON.stringify(value)

/** Why `value` is not what `flag` takes (as @effect/cli would judge it), or undefined when it is. */
export const checkValue = (flag: Flag, value: string): string | undefined => {
  const accepts = flag.accepts
  if (accepts === undefined) return undefined
  const choices = choicesOf(accepts)
  const wrong = () => `${flag.name} expects ${expected(accepts)}, got ${quote(value)}`
  if (choices) return choices.includes(value) ? undefined : wrong()
  switch (accepts) {
    case "integer": {
      const n = decodeNumber(value)
      return Either.isRight(n) && isInteger(n.right) ? undefined : wrong()
    }
    case "float":
      return Either.isRight(decodeNumber(value)) ? undefined : wrong()
    case "file":
    case "directory": {
      // like @effect/cli: a path that does not exist is left to the command; one of the wrong kind is refused
      const stat = fs.statSync(value, { throwIfNoEntry: false })
      if (stat === undefined || (accepts === "file" ? stat.isFile() : stat.isDirectory())) return undefined
      return `${flag.name} expects ${expected(accepts)}, got ${stat.isDirectory() ? "the directory " : ""}${quote(value)}`
    }
    default:
      return undefined
  }
}

const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

/** The flag of `line` an unknown `name` most likely meant (a typo of at most 2 letters). */
export const closest = (name: string, line: CommandLine): string | undefined => {
  let best: [string, number] | undefined
  for (const flag of new Set([...line.flags.values()].map((f) => f.name))) {
    const d = distance(name, flag)
    if (d <= Math.min(2, Math.floor(flag.length / 3)) && (best === undefined || d < best[1])) best = [flag, d]
  }
  return best?.[0]
}

/** The flag that asks for a command's whole help (every option in full), where `--help` gives the short one. */
export const HELP_ALL = "--help-all"

/** How `skyward ...` splits its arguments: ours go to @effect/cli, theirs to the script. */
export interface SplitArgs {
  readonly ours: string[]
  readonly theirs: string[]
}

/**
 * A checker of `skyward` command lines: every option is known, takes the value type it is
 * declared with (named in the message when not), is given once unless repeatable; and for
 * `passThrough` commands (`run`) everything after the first positional argument (the script)
 * belongs to the script. Throws a UsageError naming the option; `--help` (or `--help-all`)
 * anywhere before the script shows help: a command's is left as `<command> --help[-all]`.
 */
export const makeArgvCheck = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  options: { readonly name: string; readonly passThrough: ReadonlyArray<string> }
): ((args: ReadonlyArray<string>) => SplitArgs) => {
  const name = options.name
  const effects = commandLineOf(Options.getUsage(BuiltInOptions.builtInOptions(command.descriptor, Usage.empty, HelpDoc.empty)))
  // @effect/cli's built-in options, and ours: the whole help of a command (see ./command-help.ts)
  const builtIns: CommandLine = { ...effects, flags: new Map([...effects.flags, [HELP_ALL, { name: HELP_ALL, accepts: undefined, repeatable: false }]]) }
  const subcommands = new Map(
    [...HashMap.entries(Command.getSubcommands(command))].map(([sub, descriptor]) => [sub, commandLineOf(CommandDescriptor.getUsage(descriptor), builtIns)])
  )
  const passThrough = new Set(options.passThrough)

  return (args) => {
    let problem: string | undefined
    const fail = (message: string) => void (problem ??= message)
    let help: "--help" | typeof HELP_ALL | undefined
    let action = false
    let line = builtIns
    let sub: string | undefined
    let subAt = -1
    let positionals = 0
    const seen = new Set<Flag>()
    const where = () => `see ${[name, sub].filter(Boolean).join(" ")} --help`

    const finish = (split: SplitArgs): SplitArgs => {
      if (help !== undefined && sub !== undefined) return { ours: [...split.ours.slice(0, subAt + 1), help], theirs: [] }
      if (problem !== undefined && help === undefined && !action) throw new UsageError({ message: problem })
      return split
    }

    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!
      if (arg === "--" && sub !== undefined) {
        if (passThrough.has(sub)) {
          const script = args.slice(i + 1, i + 2)
          if (script.length === 0) fail(`missing ${line.positionals[0]?.name ?? "argument"} after -- (${where()})`)
          return finish({ ours: [...args.slice(0, i), ...script], theirs: args.slice(i + 2) })
        }
        break
      }
      if (arg.startsWith("-") && arg !== "-") {
        const eq = arg.indexOf("=")
        const given = eq > 0 ? arg.slice(0, eq) : arg
        const inline = eq > 0 ? arg.slice(eq + 1) : undefined
        const flag = line.flags.get(given)
        if (flag === undefined) {
          const owners = [...subcommands].filter(([other, l]) => other !== sub && l.flags.has(given)).map(([other]) => `${name} ${other}`).sort()
          const guess = closest(given, line)
          fail(
            owners.length > 0 && sub !== undefined
              ? `${given} is an option of ${owners.join(" and ")}, not of ${name} ${sub} (${where()})`
              : `unknown option ${given}${guess ? `; did you mean ${guess}?` : ""} (${where()})`
          )
          continue
        }
        if (flag.name === HELP_ALL) help = HELP_ALL
        else if (flag.name === "--help") help ??= "--help"
        else if (flag.name === "--version" || flag.name === "--wizard") action = true
        if (flag.accepts === undefined) {
          if (inline !== undefined && !TRUE_OR_FALSE.has(inline.toLowerCase())) fail(`${flag.name} takes no value, got ${quote(inline)}`)
          // @effect/cli reads `--quiet false` as the switch's value
          else if (inline === undefined && i + 1 < args.length && TRUE_OR_FALSE.has(args[i + 1]!.toLowerCase())) i++
        } else if (inline === undefined && i + 1 >= args.length) {
          const what = expected(flag.accepts)
          fail(`${flag.name} needs a value${what ? `: ${what}` : ""}`)
        } else {
          const wrong = checkValue(flag, inline ?? args[++i]!)
          if (wrong !== undefined) fail(wrong)
        }
        if (seen.has(flag) && !flag.repeatable) fail(`${flag.name} may be given only once`)
        seen.add(flag)
        continue
      }
      if (sub === undefined) {
        const known = subcommands.get(arg)
        if (known === undefined) {
          fail(`unknown command ${quote(arg)}; use one of ${orList([...subcommands.keys()].sort())} (${where()})`)
          return finish({ ours: [...args], theirs: [] })
        }
        sub = arg
        subAt = i
        line = known
        seen.clear()
        continue
      }
      positionals++
      const declared = line.positionals
      if (passThrough.has(sub) && positionals >= declared.length) return finish({ ours: args.slice(0, i + 1), theirs: args.slice(i + 1) })
      if (positionals > declared.length && !declared.at(-1)?.repeatable) fail(`unexpected argument ${quote(arg)} (${where()})`)
    }
    if (sub !== undefined) {
      const missing = line.positionals.filter((p) => p.required)[positionals]
      if (missing !== undefined) fail(`missing ${missing.name} (${where()})`)
    }
    return finish({ ours: [...args], theirs: [] })
  }
}

const ANSI = new RegExp(String.raw`\u001b\[[0-9;]*m`, "g")

/**
 * One line for a ValidationError that got past the check above (@effect/cli's own text,
 * without colours or blank lines).
 */
export const validationMessage = (error: ValidationError.ValidationError): string => {
  const text = HelpDoc.toAnsiText(error.error)
    .replace(ANSI, "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join("; ")
  return text !== "" ? text : `invalid command line (${error._tag}; see skyward --help)`
}
