import {
  RUN_DESCRIPTION,
  RUN_EXAMPLES,
  RUN_OPTION_TABLE,
  RUN_SECTIONS,
  SCRIPT_ARGS_NOTE,
  SCRIPT_DESCRIPTION,
  type RunOption,
  type SectionInfo
} from "./commands/run-options.js"
import type { HelpPage } from "./help-page.js"
import { rowsOf, type OptionRow } from "./option-table.js"

/**
 * The help page of `skyward run`, from its option table (./commands/run-options.ts): what it
 * does, its usage and the script's arguments, three examples, then the options by section.
 */

/** The options of one section, in order. */
export interface SectionRows {
  readonly section: SectionInfo
  readonly rows: ReadonlyArray<OptionRow>
}

/** The options of `skyward run`, by section, in the table's order. */
export const runOptionSections = (): ReadonlyArray<SectionRows> => {
  const entries: ReadonlyArray<RunOption<unknown>> = Object.values(RUN_OPTION_TABLE)
  return RUN_SECTIONS.map((section) => ({ section, rows: rowsOf(entries.filter((e) => e.section === section.id)) }))
}

/** `skyward run`'s help page. */
export const runPage = (): HelpPage => ({
  command: "skyward run",
  description: RUN_DESCRIPTION,
  usage: "skyward run [options] <script.py> [script args...]",
  arguments: [{ name: "<script.py>", text: `${SCRIPT_DESCRIPTION} ${SCRIPT_ARGS_NOTE}` }],
  examples: RUN_EXAMPLES,
  sections: runOptionSections().map(({ section, rows }) => ({
    title: section.title,
    brief: section.brief,
    rows: rows.map((r) => ({ name: r.info.name, label: r.label, text: r.info.description }))
  })),
  more: {
    brief: "Every option in full: skyward run --help-all, or docs/cli.md. Other commands: skyward --help.",
    all: "The same, with the other commands: docs/cli.md. Other commands: skyward --help."
  }
})
