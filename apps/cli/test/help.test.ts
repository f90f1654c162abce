import tty from "node:tty"
import { describe, expect, it } from "vitest"
import { helpInColor } from "../src/internal/help.js"
import { skyward } from "./cli.js"

const ESC = String.fromCharCode(27)
const ANSI = new RegExp(`${ESC}\\[`)
const COLOURS = new RegExp(`${ESC}\\[[0-9;]*m`, "g")
const { FORCE_COLOR: _force, NO_COLOR: _no, ...plainEnv } = process.env

// each case is its own CLI process: they run side by side
describe.concurrent("skyward --help", () => {
  it("run --help, piped: plain text, and the usage line names the whole command", async () => {
    const result = await skyward(["run", "--help"], { env: plainEnv })
    expect(result.code).toBe(0)
    expect(result.stdout).not.toMatch(ANSI)
    expect(result.stdout).toMatch(/^skyward\n\nskyward \d+\.\d+\.\d+\n\nUSAGE\n\n\$ skyward run \[--provider local \| ssh \| aws\] .* <script\.py>\n/)
    expect(result.stdout).toContain("\nDESCRIPTION\n\nRun a Python script with its joblib / scikit-learn work spread over a pool.\n")
    expect(result.stdout).toContain("\n--nodes integer\n")
  })

  it("ls -h and down --help after a built-in option: the same", async () => {
    for (const [args, usage] of [
      [["ls", "-h"], "$ skyward ls [--region text]"],
      [["--log-level", "debug", "down", "--help"], "$ skyward down [--region text]"]
    ] as const) {
      const result = await skyward(args, { env: plainEnv })
      expect(result.code, args.join(" ")).toBe(0)
      expect(result.stdout, args.join(" ")).not.toMatch(ANSI)
      expect(result.stdout, args.join(" ")).toContain(`\nUSAGE\n\n${usage}`)
    }
  })

  it("skyward --help, or no command at all, piped: plain text listing the commands", async () => {
    for (const args of [["--help"], []]) {
      const result = await skyward(args, { env: plainEnv })
      expect(result.code, args.join(" ")).toBe(0)
      expect(result.stdout, args.join(" ")).not.toMatch(ANSI)
      expect(result.stdout, args.join(" ")).toContain("\nUSAGE\n\n$ skyward\n")
      expect(result.stdout, args.join(" ")).toMatch(/\nCOMMANDS\n\n {2}- run .*\n\n {2}- ls .*\n\n {2}- down /)
    }
    // --version is still @effect/cli's
    expect((await skyward(["--version"], { env: plainEnv })).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it("colours only when asked for: FORCE_COLOR=1 through a pipe", async () => {
    const result = await skyward(["run", "--help"], { env: { ...plainEnv, FORCE_COLOR: "1" } })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(ANSI)
    expect(result.stdout.replace(COLOURS, "")).toContain("\n$ skyward run [--provider")
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
