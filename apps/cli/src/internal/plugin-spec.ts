import fs from "node:fs"
import path from "node:path"
import { Effect } from "effect"
import { UsageError } from "./errors.js"

/** A plugin option's key: letters, digits and _, not starting with a digit. */
const KEY = "[A-Za-z_][A-Za-z0-9_]*"
/** Where the options of `NAME:key=value,...` start: the first `:` followed by `key=`. */
const OPTIONS_START = new RegExp(`:(?=${KEY}=)`)
/** Where one option ends and the next starts: a `,` followed by `key=` (other commas belong to the value). */
const NEXT_OPTION = new RegExp(`,(?=${KEY}=)`)

/** A `--plugin` value: which plugin, and the options for its factory (undefined when none are given). */
export interface PluginSpec {
  readonly name: string
  readonly options: Readonly<Record<string, unknown>> | undefined
}

/** An option's value: JSON when it parses as JSON (`3`, `true`, `null`, `["a","b"]`, `"007"`), else the text as it is. */
export const optionValue = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/** The syntax, for error messages. */
export const PLUGIN_SPEC_SYNTAX = "--plugin NAME:key=value,key=value (such as --plugin ./run-label.mjs:label=nightly,verbose=true)"

const badSyntax = (text: string, problem: string) =>
  new UsageError({ message: `--plugin ${JSON.stringify(text)}: ${problem}; the syntax is ${PLUGIN_SPEC_SYNTAX}` })

/**
 * Parses `--plugin NAME[:key=value[,key=value...]]`. The options start at the first `:` followed by
 * `key=` (keys: letters, digits and _), so a path or a Windows drive with a `:` elsewhere stays a
 * name, and a path that exists as it is is never split. An option's value runs to the next `,key=`
 * (commas inside it, as in `tags=["a","b"]`, are kept) and is JSON when it parses, else a string.
 */
export const parsePluginSpec = (text: string): Effect.Effect<PluginSpec, UsageError> => {
  const start = text.search(OPTIONS_START)
  if (start < 0 || fs.existsSync(path.resolve(text))) {
    const afterColon = text.includes(":") ? text.slice(text.lastIndexOf(":") + 1) : undefined
    return afterColon !== undefined && (afterColon === "" || afterColon.includes("=")) && !fs.existsSync(path.resolve(text))
      ? Effect.fail(badSyntax(text, `options after ":" must be key=value pairs (keys: letters, digits and _)`))
      : Effect.succeed({ name: text, options: undefined })
  }
  const name = text.slice(0, start)
  if (name === "") return Effect.fail(badSyntax(text, `no plugin name before ":"`))
  const options = new Map<string, unknown>()
  for (const pair of text.slice(start + 1).split(NEXT_OPTION)) {
    const at = pair.indexOf("=")
    const key = pair.slice(0, at)
    if (options.has(key)) return Effect.fail(badSyntax(text, `option ${JSON.stringify(key)} is given twice`))
    options.set(key, optionValue(pair.slice(at + 1)))
  }
  return Effect.succeed({ name, options: Object.fromEntries(options) })
}
