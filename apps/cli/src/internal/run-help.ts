import {
  RUN_DESCRIPTION,
  RUN_EXAMPLES,
  RUN_OPTION_TABLE,
  RUN_SECTIONS,
  SCRIPT_ARGS_NOTE,
  SCRIPT_DESCRIPTION,
  UP_DESCRIPTION,
  UP_OPTION_TABLE,
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

/** The options of `skyward run` (or of another table in run's sections), by section, in the table's order. */
export const runOptionSections = (table: Record<string, RunOption<unknown>> = RUN_OPTION_TABLE): ReadonlyArray<SectionRows> => {
  const entries: ReadonlyArray<RunOption<unknown>> = Object.values(table)
  return RUN_SECTIONS.map((section) => ({ section, rows: rowsOf(entries.filter((e) => e.section === section.id)) }))
}

const pageSections = (table: Record<string, RunOption<unknown>>) =>
  runOptionSections(table).map(({ section, rows }) => ({
    title: section.title,
    brief: section.brief,
    rows: rows.map((r) => ({ name: r.info.name, label: r.label, text: r.info.description }))
  }))

/** `skyward run`'s help page. */
export const runPage = (): HelpPage => ({
  command: "skyward run",
  description: RUN_DESCRIPTION,
  usage: "skyward run [options] <script.py> [script args...]",
  arguments: [{ name: "<script.py>", text: `${SCRIPT_DESCRIPTION} ${SCRIPT_ARGS_NOTE}` }],
  examples: RUN_EXAMPLES,
  sections: pageSections(RUN_OPTION_TABLE),
  more: {
    brief: "Every option in full: skyward run --help-all, or docs/cli.md. Other commands: skyward --help.",
    all: "The same, with the other commands: docs/cli.md. Other commands: skyward --help."
  }
})

/** `skyward up`'s help page: its own options first, then the pool's, as run's. */
export const upPage = (): HelpPage => ({
  command: "skyward up",
  description: UP_DESCRIPTION,
  usage: "skyward up [options]",
  arguments: [],
  examples: [
    { what: "2 local nodes x 4 slots with scikit-learn, named for later", command: "skyward up --name grid --nodes 2 --concurrency 4 --plugin sklearn" },
    { what: "then, as often as needed, no start-up", command: "skyward run --pool grid grid_search.py" },
    { what: "4 EC2 instances that close after an hour without use", command: "skyward up --name big --provider aws --nodes 4 --idle 1h --plugin sklearn" }
  ],
  sections: pageSections(UP_OPTION_TABLE),
  more: {
    brief: "Every option in full: skyward up --help-all, or docs/cli.md. The pools that are up: skyward ls. Close one: skyward down NAME.",
    all: "The same, with the other commands: docs/cli.md. Other commands: skyward --help."
  }
})
