import type { Options } from "@effect/cli"
import { optionInfo, type OptionInfo } from "./option-info.js"

/**
 * A command's options as a table: each option's @effect/cli definition (its name, type and
 * description) with where help shows it (`section`) and the name of its value (`--nodes N`).
 * The command is made from the table's options (`optionsOf`), and its help and docs from its rows.
 */

/** One option of a table. */
export interface OptionEntry<A, S extends string = string> {
  readonly section: S
  readonly option: Options.Options<A>
  readonly value?: string
}

/** An entry of a table. */
export const entry = <A, S extends string>(section: S, option: Options.Options<A>, value?: string): OptionEntry<A, S> =>
  value === undefined ? { section, option } : { section, option, value }

/** The @effect/cli options of a table, by key, as `Command.make` takes them. */
export const optionsOf = <T extends Record<string, OptionEntry<unknown>>>(table: T): { readonly [K in keyof T]: T[K]["option"] } =>
  Object.fromEntries(Object.entries(table).map(([key, { option }]) => [key, option])) as { readonly [K in keyof T]: T[K]["option"] }

/** One option as help shows it: its label (`--plugin NAME (repeatable)`) and what it says about itself. */
export interface OptionRow {
  readonly label: string
  readonly info: OptionInfo
}

/** `--nodes N`, `--executor process|thread`, `--plugin NAME (repeatable)`, `-h, --help`. */
export const labelOf = (info: OptionInfo, value?: string): string => {
  const shown = value ?? info.choices?.join("|") ?? info.accepts?.toUpperCase()
  const names = [...info.aliases, info.name].join(", ")
  return `${names}${shown === undefined ? "" : ` ${shown}`}${info.repeatable ? " (repeatable)" : ""}`
}

/** The rows of a table's entries, in order. */
export const rowsOf = (entries: ReadonlyArray<OptionEntry<unknown>>): ReadonlyArray<OptionRow> =>
  entries.map((e) => {
    const info = optionInfo(e.option)
    return { label: labelOf(info, e.value), info }
  })
