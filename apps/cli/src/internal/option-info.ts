import { HelpDoc, Options } from "@effect/cli"
import type * as Span from "@effect/cli/HelpDoc/Span"
import { commandLineOf } from "./argv.js"

/**
 * What one @effect/cli option says about itself, read from its own definition (names, value type,
 * whether it repeats, and the description given with `Options.withDescription`), without the
 * boilerplate @effect/cli's help adds around it ("A user-defined piece of text.", "This setting is
 * optional."). The CLI's help and docs/cli.md are both rendered from this.
 */
export interface OptionInfo {
  /** The long name, e.g. `--nodes`. */
  readonly name: string
  /** Its other names, e.g. `-h` for `--help`. */
  readonly aliases: ReadonlyArray<string>
  /** What the option takes as @effect/cli names it (`integer`, `file`, `a | b`); undefined for a switch. */
  readonly accepts: string | undefined
  /** The choices of a `Options.choice` option. */
  readonly choices: ReadonlyArray<string> | undefined
  /** Whether it may be given more than once. */
  readonly repeatable: boolean
  /** The description, as plain text (paragraphs joined by a blank line). */
  readonly description: string
}

/** The plain text of a HelpDoc span. */
export const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    case "Highlight":
    case "Weak":
    case "Strong":
    case "URI":
    case "Text":
      return typeof span.value === "string" ? span.value : spanText(span.value)
  }
}

/** The paragraphs of a HelpDoc as plain text. */
export const docParagraphs = (doc: HelpDoc.HelpDoc): ReadonlyArray<string> => {
  switch (doc._tag) {
    case "Empty":
      return []
    case "Sequence":
      return [...docParagraphs(doc.left), ...docParagraphs(doc.right)]
    case "Paragraph":
    case "Header":
      return [spanText(doc.value)]
    case "DescriptionList":
      return doc.definitions.flatMap(([span, d]) => [spanText(span), ...docParagraphs(d)])
    case "Enumeration":
      return doc.elements.flatMap(docParagraphs)
  }
}

/**
 * The parts of @effect/cli's option structure (0.77: `Single` under `WithDefault`, `Map`,
 * `WithFallback`, `Variadic`, ...) that lead to the option's own description.
 */
type Node =
  | { readonly _tag: "Single"; readonly description: HelpDoc.HelpDoc }
  | { readonly _tag: "WithDefault" | "Map" | "WithFallback"; readonly options: Node }
  | { readonly _tag: "Variadic" | "KeyValueMap"; readonly argumentOption: Node }
  | { readonly _tag: "Both" | "OrElse"; readonly left: Node; readonly right: Node }
  | { readonly _tag: "Empty" }

const descriptionOf = (node: Node): HelpDoc.HelpDoc | undefined => {
  switch (node._tag) {
    case "Single":
      return node.description
    case "WithDefault":
    case "Map":
    case "WithFallback":
      return descriptionOf(node.options)
    case "Variadic":
    case "KeyValueMap":
      return descriptionOf(node.argumentOption)
    default:
      return undefined
  }
}

/**
 * What one option (a single flag, possibly optional or repeated) says about itself. Throws for a
 * combination of several flags, which has no single name.
 */
export const optionInfo = (option: Options.Options<unknown>): OptionInfo => {
  const names = commandLineOf(Options.getUsage(option)).flags
  const flags = [...new Set(names.values())]
  const flag = flags[0]
  if (flags.length !== 1 || flag === undefined) throw new Error(`not a single option: ${flags.map((f) => f.name).join(", ")}`)
  const description = descriptionOf(option as unknown as Node)
  return {
    name: flag.name,
    aliases: [...names.keys()].filter((name) => name !== flag.name),
    accepts: flag.accepts,
    choices: flag.accepts?.includes(" | ") ? flag.accepts.split(" | ") : undefined,
    repeatable: flag.repeatable,
    description: description === undefined ? "" : docParagraphs(description).join("\n\n")
  }
}

const leaves = (node: Node): ReadonlyArray<Node> => {
  switch (node._tag) {
    case "Both":
    case "OrElse":
      return [...leaves(node.left), ...leaves(node.right)]
    case "Map":
    case "WithFallback":
      // a record of options (`Options.all`) is a Map over Both (a mapped option is read through its Map alike)
      return leaves(node.options)
    case "Empty":
      return []
    default:
      return [node]
  }
}

/** What each option of a combination (such as @effect/cli's built-in options) says about itself, in order. */
export const optionInfos = (options: Options.Options<unknown>): ReadonlyArray<OptionInfo> =>
  leaves(options as unknown as Node).map((leaf) => optionInfo(leaf as unknown as Options.Options<unknown>))
