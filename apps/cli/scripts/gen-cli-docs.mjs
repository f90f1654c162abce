#!/usr/bin/env node
// Generates docs/cli.md from the `skyward` command's own definitions (each command's option table:
// @effect/cli's options with their descriptions, sections and value names; see
// src/internal/command-help.ts), so the reference cannot drift from the CLI.
// `node apps/cli/scripts/gen-cli-docs.mjs` writes it; `--check` exits 1 when the file is out of
// date (the release tests and apps/cli/test/help.test.ts run the same comparison).
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
/** Where the reference lives. */
export const CLI_DOC = path.resolve(here, "../../../docs/cli.md")

/** The whole reference, as the Markdown text of docs/cli.md. */
export const renderCliReference = async () => {
  const { skyward } = await import("../dist/index.js")
  const { cliReference } = await import("../dist/internal/command-help.js")
  return cliReference(skyward)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const text = await renderCliReference()
  if (process.argv.includes("--check")) {
    const current = fs.existsSync(CLI_DOC) ? fs.readFileSync(CLI_DOC, "utf8") : ""
    if (current !== text) {
      process.stderr.write(`${path.relative(process.cwd(), CLI_DOC)} is out of date: run node apps/cli/scripts/gen-cli-docs.mjs\n`)
      process.exit(1)
    }
  } else {
    fs.mkdirSync(path.dirname(CLI_DOC), { recursive: true })
    fs.writeFileSync(CLI_DOC, text)
    process.stdout.write(`wrote ${CLI_DOC}\n`)
  }
}
