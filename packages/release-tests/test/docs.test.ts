import { execFile } from "node:child_process"
import fs from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { codeBlocks } from "./code-blocks.js"

/**
 * Every code block in docs/ runs here, or says why not. The info string after the fence is
 * `<language> [flags]`:
 * - `ts`: run with tsx; `sh`: run with bash (`skyward` on PATH is the built CLI); `python`: run
 *   with the project's .venv. All run in a scratch folder of their page, which holds the page's
 *   `file=` blocks and an `examples` link to the repository's examples/.
 * - `file=NAME`: written into the scratch folder (before any block of the page runs), not run.
 * - `vitest` (with `file=NAME.test.ts`): the file is run with vitest.
 * - `output`: every line of it must appear in the output of the block run just before.
 * - `fragment`: shown only (part of a larger whole, a command that needs a cloud account, another
 *   library's code, this very test command...).
 * - `tarballs` (getting-started.md's install steps): run by pack.test.ts instead, against the
 *   tarballs it packs, in a new folder outside the workspace; so are the `output` blocks after them.
 */

const run = promisify(execFile)
const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "../../..")
const docs = path.join(repo, "docs")
// Each page's blocks run in a scratch folder inside this package (so that its imports resolve
// through this package's node_modules), private to this run and removed after it.
const cache = path.resolve(here, "../.cache")
fs.mkdirSync(cache, { recursive: true })
const scratchRoot = fs.mkdtempSync(path.join(cache, "docs-"))
// The blocks' TMPDIR, private too: tsx keeps a folder there (tsx-<uid>: its IPC pipe, its cache)
// that outlives it, and what the blocks' pools leave behind would show there.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-docs-"))
const tsxFolder = `tsx-${process.geteuid?.() ?? os.userInfo().username}`
const venvPython = path.join(repo, ".venv/bin/python")

const RUNNABLE = new Set(["ts", "sh", "python"])

const pages = fs.readdirSync(docs).filter((name) => name.endsWith(".md")).sort()

afterAll(() => {
  fs.rmSync(scratchRoot, { recursive: true, force: true })
  fs.rmSync(tmp, { recursive: true, force: true })
  try {
    fs.rmdirSync(cache) // only when nothing else uses it
  } catch {
    // not empty: someone else's
  }
  expect([scratchRoot, tmp].filter((dir) => fs.existsSync(dir)), "left behind").toEqual([])
})

/** What the blocks left in their TMPDIR, besides tsx's own folder. */
const leftInTmp = (): string[] => fs.readdirSync(tmp).filter((name) => name !== tsxFolder)

/** Runs the code blocks of one Markdown page (see the conventions above); throws on the first failure. */
const checkPage = async (page: string, markdown: string): Promise<void> => {
  const blocks = codeBlocks(markdown)
  for (const block of blocks) {
    const where = `${page}:${block.line}`
    const known = RUNNABLE.has(block.language) || block.flags.has("fragment") || block.flags.has("output") || block.file !== undefined
    expect(known, `${where}: a \`${block.language || "(no language)"}\` block must be runnable (ts, sh, python), a file=, an output or a fragment`).toBe(true)
    if (block.flags.has("tarballs"))
      expect(page === "getting-started.md" && block.language === "sh", `${where}: only getting-started.md's sh blocks can be \`tarballs\` (pack.test.ts runs those of that page)`).toBe(true)
  }
  const elsewhere = (b: { flags: ReadonlySet<string> }) => b.flags.has("fragment") || b.flags.has("tarballs")
  if (blocks.every(elsewhere)) return

  const scratch = path.join(scratchRoot, page.replace(/\.md$/, ""))
  fs.rmSync(scratch, { recursive: true, force: true })
  fs.mkdirSync(path.join(scratch, ".bin"), { recursive: true })
  fs.symlinkSync(path.join(repo, "examples"), path.join(scratch, "examples"))
  const shim = path.join(scratch, ".bin", "skyward")
  fs.writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${path.join(repo, "apps/cli/dist/bin.js")}" "$@"\n`, { mode: 0o755 })
  for (const block of blocks)
    if (block.file !== undefined && !block.flags.has("fragment")) {
      fs.mkdirSync(path.dirname(path.join(scratch, block.file)), { recursive: true })
      fs.writeFileSync(path.join(scratch, block.file), block.code)
    }

  // named pools (skyward up) of the page's blocks are kept in the scratch folder, and closed after the page even when a block failed
  const state = path.join(scratch, ".state")
  const env = { ...process.env, PATH: `${path.join(scratch, ".bin")}:${process.env.PATH ?? ""}`, FORCE_COLOR: "0", TMPDIR: tmp, XDG_STATE_HOME: state }
  const options = { cwd: scratch, env, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }
  const failed = (where: string, language: string, error: unknown) => {
    const e = error as { stdout?: string; stderr?: string; message: string }
    return new Error(`${where}: the ${language} block failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`)
  }
  const outputs = new Map<number, string>()

  // The page's ts blocks run in one tsx process, one module after the other (Node and the
  // libraries start once per page, not once per block); each block's output is told apart by
  // a marker line printed before it.
  const tsBlocks = [...blocks.entries()].filter(([, b]) => b.language === "ts" && b.file === undefined && !b.flags.has("fragment") && !b.flags.has("output"))
  if (tsBlocks.length > 0) {
    const marker = "@@docs-block@@"
    for (const [index, block] of tsBlocks) fs.writeFileSync(path.join(scratch, `block-${index}.ts`), block.code)
    const runner = tsBlocks
      .map(([index]) => `console.log(${JSON.stringify(`${marker}${index}`)})\nawait import("./block-${index}.ts")`)
      .join("\n")
    fs.writeFileSync(path.join(scratch, "run-blocks.ts"), `${runner}\nexport {}\n`)
    let stdout = ""
    try {
      stdout = (await run(process.execPath, [require.resolve("tsx/cli"), "run-blocks.ts"], options)).stdout
    } catch (error) {
      const started = [...((error as { stdout?: string }).stdout ?? "").matchAll(new RegExp(`${marker}(\\d+)`, "g"))].at(-1)?.[1]
      const culprit = blocks[Number(started ?? tsBlocks[0]![0])]!
      throw failed(`${page}:${culprit.line}`, "ts", error)
    }
    for (const part of stdout.split(marker).slice(1)) {
      const newline = part.indexOf("\n")
      outputs.set(Number(part.slice(0, newline)), part.slice(newline + 1))
    }
  }

  try {
    await runBlocks(blocks, outputs, options, failed, page)
  } finally {
    if (fs.existsSync(state)) await run(shim, ["down", "--all"], { ...options, env: { ...env, AWS_REGION: "", AWS_DEFAULT_REGION: "", AWS_PROFILE: "" } })
  }
  fs.rmSync(scratch, { recursive: true, force: true })
}

/** Runs the page's blocks that are not ts (those ran above), checking each output block against the block before it. */
const runBlocks = async (
  blocks: ReturnType<typeof codeBlocks>,
  outputs: Map<number, string>,
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv; readonly timeout: number; readonly maxBuffer: number },
  failed: (where: string, language: string, error: unknown) => Error,
  page: string
): Promise<void> => {
  const scratch = options.cwd
  let last: { index: number; where: string; elsewhere?: boolean } | undefined
  for (const [index, block] of blocks.entries()) {
    const where = `${page}:${block.line}`
    if (block.flags.has("fragment")) continue
    if (block.flags.has("tarballs")) {
      last = { index, where, elsewhere: true }
      continue
    }
    if (block.flags.has("output")) {
      expect(last, `${where}: an output block must follow a block that runs`).toBeDefined()
      if (last!.elsewhere) continue
      for (const line of block.code.split("\n").map((l) => l.trim()).filter(Boolean))
        expect(outputs.get(last!.index), `${where}: output of ${last!.where}`).toContain(line)
      continue
    }
    if (block.file !== undefined && !block.flags.has("vitest")) continue
    last = { index, where }
    if (outputs.has(index)) continue // a ts block, already run
    try {
      let result: { stdout: string; stderr: string }
      if (block.flags.has("vitest")) {
        const vitest = path.join(path.dirname(require.resolve("vitest/package.json")), "vitest.mjs")
        // its own config: vitest would otherwise find this package's config up the tree
        const config = path.join(scratch, "vitest.config.mjs")
        fs.writeFileSync(config, `export default { test: { include: [${JSON.stringify(block.file)}], testTimeout: 120000 } }\n`)
        result = await run(process.execPath, [vitest, "run", "--config", config, "--root", scratch], options)
      } else if (block.language === "sh") {
        result = await run("bash", ["-euo", "pipefail", "-c", block.code], options)
      } else {
        const file = path.join(scratch, `block-${index}.py`)
        fs.writeFileSync(file, block.code)
        result = await run(venvPython, [file], options)
      }
      outputs.set(index, result.stdout + result.stderr)
    } catch (error) {
      throw failed(where, block.language, error)
    }
  }
}

describe("docs/", () => {
  it("has the pages the docs promise", () => {
    expect(pages).toEqual(expect.arrayContaining(["api.md", "cli.md", "comparison.md", "concepts.md", "getting-started.md", "plugins.md"]))
  })

  it("cli.md is what the CLI's own definitions generate", async () => {
    const script = path.join(repo, "apps/cli/scripts/gen-cli-docs.mjs")
    const { renderCliReference } = (await import(pathToFileURL(script).href)) as { renderCliReference: () => Promise<string> }
    const expected = await renderCliReference()
    expect(fs.readFileSync(path.join(docs, "cli.md"), "utf8"), "docs/cli.md is out of date: run node apps/cli/scripts/gen-cli-docs.mjs").toBe(expected)
  })

  it.each(pages)("%s: every code block runs, or is marked as a fragment, and leaves nothing in TMPDIR", async (page) => {
    await checkPage(page, fs.readFileSync(path.join(docs, page), "utf8"))
    expect(leftInTmp()).toEqual([])
  })

  it("tsx kept its folder in the blocks' private TMPDIR (removed after the run), not in the real one", () => {
    expect(fs.readdirSync(tmp)).toEqual([tsxFolder])
  })

  it("the check itself fails on an unmarked block, a wrong output and a failing block", async () => {
    await expect(checkPage("unmarked.md", "```text\nhello\n```\n")).rejects.toThrow(/unmarked.md:1: a `text` block must be runnable/)
    await expect(checkPage("wrong.md", "```python\nprint(6 * 7)\n```\n\n```text output\n41\n```\n")).rejects.toThrow(/wrong.md:5: output of wrong.md:1/)
    const twoBlocks = "```ts\nconsole.log(1)\n```\n\n```ts\nthrow new Error(\"doc bug\")\n```\n"
    await expect(checkPage("failing.md", twoBlocks)).rejects.toThrow(/failing.md:5: the ts block failed(.|\n)*doc bug/)
    // install steps are pack.test.ts's, with their outputs, and only getting-started.md has them
    await expect(checkPage("getting-started.md", "```sh tarballs\nexit 1\n```\n\n```text output\nnever\n```\n")).resolves.toBeUndefined()
    await expect(checkPage("other.md", "```sh tarballs\nexit 1\n```\n")).rejects.toThrow(/other.md:1: only getting-started.md's sh blocks can be `tarballs`/)
  })
})
