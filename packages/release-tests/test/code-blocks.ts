/** One fenced code block of a Markdown page. */
export interface Block {
  /** Its opening fence's line, 1-based. */
  readonly line: number
  /** The first word of its info string (`sh`, `ts`, `text`...). */
  readonly language: string
  /** The other words of its info string, `file=` excepted (`fragment`, `output`, `tarballs`...). */
  readonly flags: ReadonlySet<string>
  /** The NAME of a `file=NAME` word. */
  readonly file: string | undefined
  /** Its text, ending with a newline. */
  readonly code: string
}

/** The fenced code blocks of a Markdown text, in order. */
export const codeBlocks = (markdown: string): Block[] => {
  const blocks: Block[] = []
  const lines = markdown.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]!)
    if (!open) continue
    const [, indent, fence, info] = open as unknown as [string, string, string, string]
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !lines[j]!.trimStart().startsWith(fence); j++) body.push(lines[j]!.slice(indent.length))
    const [language = "", ...words] = info.trim().split(/\s+/).filter(Boolean)
    const file = words.find((w) => w.startsWith("file="))?.slice("file=".length)
    blocks.push({ line: i + 1, language, flags: new Set(words.filter((w) => !w.startsWith("file="))), file, code: body.join("\n") + "\n" })
    i = j
  }
  return blocks
}
