import fs from "node:fs"
import path from "node:path"
import tty from "node:tty"
import { pathToFileURL } from "node:url"
import { Command, CommandDescriptor } from "@effect/cli"
import { HashMap } from "effect"
import { describe, expect, it } from "vitest"
import { commandLineOf } from "../src/internal/argv.js"
import { COMMAND_PAGES } from "../src/internal/command-help.js"
import { runCommand } from "../src/internal/commands/run.js"
import { helpInColor } from "../src/internal/help.js"
import { skyward as skywardCommand } from "../src/internal/main.js"
import { runOptionSections } from "../src/internal/run-help.js"
import { repo, skyward } from "./cli.js"

const ESC = String.fromCharCode(27)
const ANSI = new RegExp(`${ESC}\\[`)
const COLOURS = new RegExp(`${ESC}\\[[0-9;]*m`, "g")
const { FORCE_COLOR: _force, NO_COLOR: _no, ...plainEnv } = process.env

// `skyward run --help` with colours off, run once for the tests that read it
let runHelp: ReturnType<typeof skyward> | undefined
const plainRunHelp = () => (runHelp ??= skyward(["run", "--help"], { env: plainEnv }))

// each case is its own CLI process: they run side by side
describe.concurrent("skyward --help", () => {
  it("run --help, piped: one screen, plain text, what it does, three examples, then the options by use", async () => {
    const result = await plainRunHelp()
    expect(result.code).toBe(0)
    const text = result.stdout
    expect(text).not.toMatch(ANSI)
    const lines = text.trimEnd().split("\n")
    expect(lines.length, text).toBeLessThanOrEqual(60)
    expect(lines[0]).toBe("skyward run: run a Python script with its joblib / scikit-learn work spread over a pool.")
    expect(text).toContain("\nUsage: skyward run [options] <script.py> [script args...]\n")
    // what happens to the arguments after the script
    expect(text).toMatch(/script's own\s+arguments \(its sys\.argv\[1:\]\)/)
    // three examples before any option: local, SSH hosts, EC2
    const examples = lines.filter((l) => l.startsWith("  skyward run "))
    expect(examples).toHaveLength(3)
    expect(examples[0]).not.toContain("--provider")
    expect(examples[1]).toContain("--provider ssh --hosts ")
    expect(examples[2]).toContain("--provider aws ")
    const at = (flag: string) => lines.findIndex((l) => l.startsWith(`  ${flag} `) || l === `  ${flag}`)
    expect(lines.findIndex((l) => l.startsWith("  skyward run "))).toBeLessThan(at("--nodes"))
    // the common flags first, then each provider's under it
    const common = ["--nodes", "--concurrency", "--executor", "--provider", "--plugin", "--pip", "--env", "--env-file", "--config", "--timeout", "--workdir", "--python", "--quiet", "--json"]
    for (const flag of common) expect(at(flag), flag).toBeGreaterThan(0)
    expect(at("--nodes")).toBeLessThan(20) // was line 167
    const lastCommon = Math.max(...common.map(at))
    const ssh = lines.indexOf("SSH: your machines (--provider ssh):")
    const aws = lines.indexOf("AWS: EC2 instances made for the run (--provider aws):")
    expect(lastCommon).toBeLessThan(ssh)
    expect(ssh).toBeLessThan(at("--hosts"))
    expect(at("--trust-on-first-use")).toBeLessThan(aws)
    expect(aws).toBeLessThan(at("--instance-type"))
    expect(aws).toBeLessThan(at("--power-off-command"))
    // no @effect/cli boilerplate; repeatable options are said to be, not shown as required
    expect(text).not.toContain("This setting is optional")
    expect(text).not.toContain("A user-defined piece of text")
    expect(text).not.toMatch(/\w\.\.\.( |$)/m)
    expect(text).toContain("\n  --plugin NAME (repeatable) ")
    expect(text).toContain("\n  --env KEY[=VALUE] (repeatable) ")
    expect(text).toMatch(/\nAdvanced: --instance-profile, --volume, --scale-down-after, --retries, --argument-limit,/)
    expect(lines.at(-1)).toBe("Every option in full: skyward run --help-all, or docs/cli.md. Other commands: skyward --help.")
    // -h, and --help after other options, are the same
    const same = await Promise.all([["run", "-h"], ["run", "--nodes", "two", "--help"]].map(async (args) => [args.join(" "), (await skyward(args, { env: plainEnv })).stdout]))
    for (const [args, stdout] of same) expect(stdout, args).toBe(text)
  })

  it("run --help-all: every option of the command with its whole description, in the same order", async () => {
    const [short, all, afterScript] = await Promise.all([
      plainRunHelp(),
      skyward(["run", "--help-all"], { env: plainEnv }),
      skyward(["run", "--quiet", "missing.py", "--help-all"], { env: plainEnv })
    ])
    expect(all.code).toBe(0)
    const flat = (text: string) => text.replace(/\s+/g, " ")
    const shown = flat(all.stdout)
    // every option @effect/cli parses for `run`, once, with its full text
    const parsed = [...new Set([...commandLineOf(CommandDescriptor.getUsage(runCommand.descriptor)).flags.values()].map((f) => f.name))]
    const rows = runOptionSections().flatMap((s) => s.rows)
    expect(rows.map((r) => r.info.name).sort()).toEqual(parsed.sort())
    for (const r of rows) {
      expect(r.info.description, r.info.name).not.toBe("")
      expect(shown, r.info.name).toContain(flat(`${r.label} ${r.info.description}`))
    }
    expect(all.stdout.split("\n").length).toBeGreaterThan(short.stdout.split("\n").length)
    expect(all.stdout).not.toContain("This setting is optional")
    // after the script, --help and --help-all are the script's: here they make the script "missing"
    expect(afterScript.stderr).toContain("script not found: missing.py")
  })

  it("docs/cli.md is generated from the same tables and documents every option of every command in full", async () => {
    const docs = fs.readFileSync(path.join(repo, "docs/cli.md"), "utf8")
    const script = path.join(repo, "apps/cli/scripts/gen-cli-docs.mjs")
    const { renderCliReference } = (await import(pathToFileURL(script).href)) as { renderCliReference: () => Promise<string> }
    expect(docs, "docs/cli.md is out of date: run node apps/cli/scripts/gen-cli-docs.mjs").toBe(await renderCliReference())
    const subcommands = [...HashMap.entries(Command.getSubcommands(skywardCommand))]
    expect(Object.keys(COMMAND_PAGES).sort()).toEqual(subcommands.map(([name]) => name).sort())
    for (const [name, descriptor] of subcommands) {
      const page = COMMAND_PAGES[name]!()
      const part = docs.slice(docs.indexOf(`\n## skyward ${name}\n`)).split(/\n## /)[1]!
      // every option @effect/cli parses for the command is on its page, and in docs/cli.md with its whole text
      const parsed = new Set([...commandLineOf(CommandDescriptor.getUsage(descriptor)).flags.values()].map((f) => f.name))
      const rows = page.sections.flatMap((section) => section.rows)
      expect(rows.map((r) => r.name).sort(), name).toEqual([...parsed].sort())
      for (const section of page.sections) expect(part, `${name}: ${section.title}`).toContain(`\n### ${section.title}\n`)
      for (const r of rows) {
        expect(r.text, `${name} ${r.name}`).not.toBe("")
        expect(part, `${name} ${r.name}`).toContain(`| \`${r.label.replaceAll("|", "\\|")}\` | ${r.text.replaceAll("|", "\\|")} |`)
      }
    }
    expect(docs).toContain("`skyward run [options] <script.py> [script args...]`")
    expect(docs).not.toContain("This setting is optional")
    expect(docs).not.toContain("A user-defined piece of text")
  })

  it("ls -h and down --help after a built-in option: the same layout, every option of the command, no boilerplate", async () => {
    for (const [args, usage, options] of [
      [["ls", "-h"], "Usage: skyward ls [options]", ["--region REGION", "--profile PROFILE", "--endpoint URL", "--json"]],
      [["--log-level", "debug", "down", "--help"], "Usage: skyward down [options] <pool> | --all", ["--region REGION", "--profile PROFILE", "--endpoint URL", "--all"]]
    ] as const) {
      const result = await skyward(args, { env: plainEnv })
      const name = args.join(" ")
      expect(result.code, name).toBe(0)
      expect(result.stdout, name).not.toMatch(ANSI)
      expect(result.stdout, name).toContain(`\n${usage}\n`)
      for (const option of options) expect(result.stdout, `${name}: ${option}`).toMatch(new RegExp(`\\n {2}${option.replace(/[[\]]/g, "\\$&")} +[A-Z]`))
      expect(result.stdout, name).not.toContain("This setting is optional")
    }
  })

  it("skyward --help, or no command at all, piped: plain text listing the commands and the options of every command", async () => {
    for (const args of [["--help"], []]) {
      const result = await skyward(args, { env: plainEnv })
      const name = args.join(" ") || "(none)"
      expect(result.code, name).toBe(0)
      expect(result.stdout, name).not.toMatch(ANSI)
      expect(result.stdout, name).toMatch(/^skyward \d+\.\d+\.\d+: run Python work on a pool of machines\.\n\nUsage: skyward <command> \[options\]\n/)
      expect(result.stdout, name).toMatch(/\nCommands:\n {2}run +Run a Python script .*\n {2}up +Open a named pool .*\n(?: {4,}.*\n)? {2}ls +List .*\n(?: {4,}.*\n)? {2}down +Close /)
      expect(result.stdout, name).toMatch(/\n {2}-h, --help +Show /)
      expect(result.stdout, name).toMatch(/\n {2}--help-all +Show /)
      expect(result.stdout.split("\n").length, name).toBeLessThan(30)
    }
    // --version is still @effect/cli's
    expect((await skyward(["--version"], { env: plainEnv })).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it("colours only when asked for: FORCE_COLOR=1 through a pipe", async () => {
    const result = await skyward(["run", "--help"], { env: { ...plainEnv, FORCE_COLOR: "1" } })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(ANSI)
    expect(result.stdout.replace(COLOURS, "")).toContain("\nUsage: skyward run [options] <script.py>")
  })

  it("on a terminal, as the terminal and NO_COLOR / FORCE_COLOR say", () => {
    const terminal = (colors: boolean) => ({ isTTY: true, hasColors: () => colors })
    // a real terminal's judgement (Node's tty.WriteStream#hasColors) of the environment
    const hasColors = tty.WriteStream.prototype.hasColors as (this: tty.WriteStream, env: object) => boolean
    const real = { isTTY: true, hasColors: (env?: NodeJS.ProcessEnv) => hasColors.call(tty.WriteStream.prototype, env ?? {}) }
    expect(helpInColor(real, { TERM: "xterm-256color" })).toBe(true)
    expect(helpInColor(real, { TERM: "xterm-256color", NO_COLOR: "1" })).toBe(false)
    expect(helpInColor(real, { TERM: "dumb" })).toBe(false)
    expect(helpInColor(terminal(true), {})).toBe(true)
    expect(helpInColor(terminal(false), {})).toBe(false)
    expect(helpInColor({ isTTY: false }, {})).toBe(false)
    expect(helpInColor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true)
    expect(helpInColor({ isTTY: false }, { FORCE_COLOR: "0" })).toBe(false)
  })
})
