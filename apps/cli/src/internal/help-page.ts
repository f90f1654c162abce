/**
 * How a command's help is laid out, as text (`--help`, `--help-all`) and as Markdown (its section
 * of docs/cli.md): a first line saying what it does, the usage, examples, then its options by
 * section. The pages themselves are made from the commands' option tables (./command-help.ts).
 */

/** One row of a section: an option (or a command) and what it says about itself. */
export interface HelpRow {
  /** The option's long name (`--nodes`), as a section listed by name only shows it. */
  readonly name: string
  /** As a row shows it: `--plugin NAME (repeatable)`. */
  readonly label: string
  /** The whole description: `--help` shows its first sentence, `--help-all` and the docs all of it. */
  readonly text: string
}

/** A titled group of rows; the short help lists a `names` section by name only. */
export interface HelpSection {
  readonly title: string
  readonly brief: "lines" | "names"
  /** What its rows are (options unless said): docs/cli.md links a command to its own section. */
  readonly kind?: "option" | "command"
  readonly rows: ReadonlyArray<HelpRow>
}

/** A command line worth showing, and what it does. */
export interface HelpExample {
  readonly what: string
  readonly command: string
}

/** One command's help. */
export interface HelpPage {
  /** The command, e.g. `skyward run`. */
  readonly command: string
  /** Shown after the command on the first line of help (not in docs/cli.md). */
  readonly version?: string
  readonly description: string
  /** Its usage, e.g. `skyward run [options] <script.py> [script args...]`. */
  readonly usage: string
  /** The usage's arguments (`<script.py>`) and what they are. */
  readonly arguments: ReadonlyArray<{ readonly name: string; readonly text: string }>
  readonly examples: ReadonlyArray<HelpExample>
  readonly sections: ReadonlyArray<HelpSection>
  /** The last line of the short help and of the whole help. */
  readonly more: { readonly brief: string; readonly all: string }
}

/** How help is drawn. */
export interface HelpStyle {
  /** Every row with its whole description (`--help-all`), rather than its first sentence. */
  readonly all: boolean
  /** Columns to wrap at. */
  readonly width: number
  /** Bold headings (ANSI). */
  readonly color: boolean
}

/** The first sentence of a description (what the short help shows). */
export const firstSentence = (text: string): string => {
  const end = /[.!?](\s|$)/.exec(text)
  return end === null ? text : text.slice(0, end.index + 1)
}

/** `head` then `text`, wrapped at `width` columns; the lines after the first start with `indent` spaces. */
const wrap = (head: string, text: string, width: number, indent: number): string[] => {
  const lines: string[] = []
  let line = head
  let empty = true
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = `${" ".repeat(indent)}${word}`
    } else line = empty ? `${line}${word}` : `${line} ${word}`
    empty = false
  }
  lines.push(line)
  return lines
}

/** A two-column row: `label` padded to `column`, then `text` wrapped under itself. */
const row = (label: string, text: string, column: number, width: number): string[] => {
  const head = `  ${label}`
  if (head.length + 2 > column) return [head, ...wrap(" ".repeat(column), text, width, column)]
  return wrap(head.padEnd(column), text, width, column)
}

/** A help page as text. */
export const renderHelp = (page: HelpPage, style: HelpStyle): string => {
  const { all, width } = style
  const heading = (text: string) => (style.color ? `\u001b[1m${text}\u001b[22m` : text)
  // one column for all the options of the page; commands get their own
  const columnOf = (rows: ReadonlyArray<HelpRow>) => Math.min(36, 4 + Math.max(0, ...rows.map((r) => r.label.length)))
  const options = columnOf(page.sections.filter((s) => s.kind !== "command" && (all || s.brief === "lines")).flatMap((s) => s.rows))
  const title = page.version === undefined ? page.command : `${page.command} ${page.version}`
  const out: string[] = [`${title}: ${page.description[0]!.toLowerCase()}${page.description.slice(1)}`, "", `${heading("Usage:")} ${page.usage}`]
  for (const argument of page.arguments) out.push(...wrap(`  ${argument.name}: `, argument.text, width, 4))
  if (page.examples.length > 0)
    out.push("", heading("Examples:"), ...page.examples.flatMap((example) => [`  # ${example.what}`, `  ${example.command}`]))
  for (const section of page.sections) {
    out.push("")
    if (!all && section.brief === "names") {
      out.push(...wrap(`${heading(`${section.title}:`)} `, section.rows.map((r) => r.name).join(", "), width, 2))
      continue
    }
    out.push(heading(`${section.title}:`))
    const column = section.kind === "command" ? columnOf(section.rows) : options
    for (const r of section.rows) out.push(...row(r.label, all ? r.text : firstSentence(r.text), column, width))
  }
  out.push("", all ? page.more.all : page.more.brief)
  return out.join("\n")
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ")

/** A help page as Markdown (its title at `##`, sections at `###`), every row with its whole description. */
export const pageMarkdown = (page: HelpPage): string => {
  const lines = [`## ${page.command}`, "", `Usage: \`${page.usage}\``, "", page.description, ""]
  for (const argument of page.arguments) lines.push(`\`${argument.name}\`: ${argument.text}`, "")
  if (page.examples.length > 0)
    lines.push("Examples:", "", "```sh fragment", ...page.examples.flatMap((example) => [`# ${example.what}`, example.command]), "```", "")
  for (const section of page.sections) {
    const kind = section.kind ?? "option"
    lines.push(`### ${section.title}`, "", `| ${kind} | description |`, "|---|---|")
    for (const r of section.rows) {
      const label = kind === "command" ? `[\`${page.command} ${r.label}\`](#${`${page.command} ${r.label}`.replaceAll(" ", "-")})` : `\`${cell(r.label)}\``
      lines.push(`| ${label} | ${cell(r.text)} |`)
    }
    lines.push("")
  }
  return lines.join("\n")
}
