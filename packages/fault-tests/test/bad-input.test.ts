// Bad input to `skyward run`: every option with a wrong type or range, unknown options, config
// files that throw or hold nonsense, incompatible plugins, and a pip requirement that does not
// exist. Each is one clear line on stderr, a usage exit code, and nothing left behind.
import fs from "node:fs"
import path from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import { descendants, fixtures, leftoversOf, report, runCli, skywardLines, tempDir, type CliRun } from "./support.js"

const ok = path.join(fixtures, "ok.py")
let runs: CliRun[] = []
afterEach(() => {
  for (const run of runs) run.kill()
  runs = []
})

const refused = async (args: string[], pattern: RegExp, code = 2) => {
  const result = await runCli(["run", "--quiet", ...args], { timeoutMs: 30_000 })
  runs.push(result)
  const label = args.join(" ")
  expect(result.code, `${label}\n${result.stderr}`).toBe(code)
  // one `skyward:` line and nothing else (no @effect/cli block, no stack trace)
  const text = result.stderr.trim()
  expect(skywardLines(result.stderr), `${label}\n${result.stderr}`).toEqual([text])
  expect(text, label).toMatch(pattern)
  expect(await leftoversOf(result, 2_000), label).toEqual([])
  return result
}

/** Runs the CLI's `main` in this process (the same code as the command; no 2 s Node start-up per case). */
const mainHere = async (args: string[], command = ["run", "--quiet"]): Promise<{ code: number; output: string }> => {
  const { main } = await import("@skyward/cli")
  let output = ""
  const capture = (...parts: unknown[]) => void (output += parts.map(String).join(" ") + "\n")
  const spies = [
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (capture(chunk), true)),
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (capture(chunk), true)),
    vi.spyOn(console, "log").mockImplementation(capture),
    vi.spyOn(console, "error").mockImplementation(capture)
  ]
  try {
    const code = await main(["node", "skyward", ...command, ...args])
    return { code, output }
  } finally {
    for (const spy of spies) spy.mockRestore()
  }
}

describe("CLI options with a wrong type or range", () => {
  const cases: Array<[string[], RegExp]> = [
    [["--nodes", "0", ok], /^skyward: --nodes "0": expected a count such as 4, or MIN\.\.MAX such as 1\.\.4 \(MIN at least 1, MAX at least MIN\)$/],
    [["--nodes", "-3", ok], /^skyward: --nodes "-3": expected a count such as 4, or MIN\.\.MAX such as 1\.\.4 \(MIN at least 1, MAX at least MIN\)$/],
    [["--nodes", "1.5", ok], /^skyward: --nodes "1\.5": expected a count such as 4, or MIN\.\.MAX such as 1\.\.4 \(MIN at least 1, MAX at least MIN\)$/],
    [["--nodes", "two", ok], /^skyward: --nodes "two": expected a count such as 4, or MIN\.\.MAX such as 1\.\.4 \(MIN at least 1, MAX at least MIN\)$/],
    [["--nodes=two", ok], /^skyward: --nodes "two": expected a count such as 4, or MIN\.\.MAX such as 1\.\.4 \(MIN at least 1, MAX at least MIN\)$/],
    [["--nodes", "3..1", ok], /^skyward: --nodes "3\.\.1": expected a count such as 4, or MIN\.\.MAX such as 1\.\.4 \(MIN at least 1, MAX at least MIN\)$/],
    [["--volume", "data", ok], /^skyward: --volume "data": expected SRC:PATH\[:rw\], such as s3:\/\/bucket\/prefix:\/data or \.\/data:\/data$/],
    [["--concurrency", "0", ok], /worker\.concurrency: must be a positive integer/],
    [["--concurrency", "many", ok], /^skyward: --concurrency expects an integer, got "many"$/],
    [["--timeout", "0", ok], /timeout: must be a positive number of seconds/],
    [["--timeout", "-5", ok], /timeout: must be a positive number of seconds/],
    [["--timeout", "soon", ok], /^skyward: --timeout expects a number, got "soon"$/],
    [["--json", "--timeout", "soon", ok], /^skyward: --timeout expects a number, got "soon"$/],
    [["--retries", "-1", ok], /retries: Expected a number between 0 and 100/],
    [["--retries", "1000", ok], /retries: Expected a number between 0 and 100/],
    [["--retries", "x", ok], /^skyward: --retries expects an integer, got "x"$/],
    [["--executor", "fork", ok], /^skyward: --executor expects process or thread, got "fork"$/],
    [["--provider", "cloud9", ok], /^skyward: --provider expects local, ssh or aws, got "cloud9"$/],
    [["--provider", "aws", "--allocation", "cheap", ok], /^skyward: --allocation expects spot, on-demand or spot-if-available, got "cheap"$/],
    [["--provider", "aws", "--ttl", "forever", ok], /^skyward: --ttl expects a number, got "forever"$/],
    [["--provider", "aws", "--address", "nowhere", ok], /^skyward: --address expects public or private, got "nowhere"$/],
    [["--json=maybe", ok], /^skyward: --json takes no value, got "maybe"$/],
    [["--quiet", "--quiet", ok], /^skyward: --quiet may be given only once$/],
    [["--nodes", "2", "--nodes", "3", ok], /^skyward: --nodes may be given only once$/],
    [["--hosts", "a@b:22", ok], /--hosts needs --provider ssh/],
    [["--provider", "ssh", ok], /--provider ssh needs --hosts/],
    [["--provider", "ssh", "--hosts", "user@host:notaport", ok], /--hosts: .*port/],
    [["--env", "NOEQUALS", ok], /--env NOEQUALS: NOEQUALS is not set in the environment skyward run was started in: set it \(export NOEQUALS=\.\.\.\), or use --env NOEQUALS=VALUE or --env-file/],
    [["--pip", "numpy===", ok], /image\.pip\.0: malformed pip requirement/],
    [["--config", "/nonexistent/skyward.config.ts", ok], /nonexistent\/skyward\.config\.ts/],
    [["--plugin", "no-such-plugin-xyz", ok], /unknown plugin "no-such-plugin-xyz"/],
    [["--bogus", ok], /unknown option --bogus/],
    [["--nodez", "2", ok], /^skyward: unknown option --nodez; did you mean --nodes\?/],
    [["--nodes"], /^skyward: --nodes needs a value$/],
    [["does-not-exist.py"], /script not found: does-not-exist\.py/]
  ]
  it.each(cases)("skyward run %j is refused with a clear message and exit 2", async (args, pattern) => {
    const before = descendants()
    const { code, output } = await mainHere(args)
    expect(code, output).toBe(2)
    expect(output.trim()).toMatch(pattern)
    expect(descendants().filter((p) => !before.includes(p))).toEqual([])
  })

  it.each([
    [["ls", "--regoin", "eu-west-1"], /^skyward: unknown option --regoin; did you mean --region\? \(see skyward ls --help\)$/],
    [["ls", "--json=maybe"], /^skyward: --json takes no value, got "maybe"$/],
    [["ls", "--nodes", "2"], /^skyward: --nodes is an option of skyward run and skyward up, not of skyward ls/],
    [["down", "--all", "--bogus"], /^skyward: unknown option --bogus \(see skyward down --help\)$/],
    [["down", "--all=maybe"], /^skyward: --all takes no value, got "maybe"$/],
    [["down", "--region"], /^skyward: --region needs a value$/],
    [["down", "pool-a", "pool-b"], /^skyward: unexpected argument "pool-b"/]
  ] as Array<[string[], RegExp]>)("skyward %j is refused with a message naming the option and exit 2", async (args, pattern) => {
    const { code, output } = await mainHere(args, [])
    expect(code, output).toBe(2)
    expect(output.trim()).toMatch(pattern)
  })

  it("the real command: one line, exit 2, nothing left", async () => {
    await refused(["--nodes", "0", ok], /^skyward: --nodes "0": expected a count such as 4/)
    await refused(["--bogus", ok], /^skyward: unknown option --bogus/)
    await refused(["--nodes", "two", ok], /^skyward: --nodes "two": expected a count such as 4/)
    await refused(["--json", "--executor", "fork", ok], /^skyward: --executor expects process or thread, got "fork"$/)
  })
})

describe("config files and plugins", () => {
  it("a config file that throws names the file and the error", async () => {
    const result = await refused(["--config", path.join(fixtures, "config-throws.mjs"), ok], /config-throws\.mjs: config exploded on purpose/)
    expect(skywardLines(result.stderr)).toHaveLength(1)
  })

  it("a config file that exports a number, a wrong type, an unknown field", async () => {
    for (const [file, pattern] of [
      ["config-not-object.mjs", /must export an object of pool options/],
      ["config-bad-field.mjs", /worker\.concurrency/],
      ["config-unknown-field.mjs", /nodez/]
    ] as const) {
      const { code, output } = await mainHere(["--config", path.join(fixtures, file), ok])
      expect(code, output).toBe(2)
      expect(output).toMatch(pattern)
    }
  })

  it("an incompatible plugin version names both versions", async () => {
    for (const [file, pattern] of [
      ["plugin-too-new.mjs", /requires @skyward\/core >=99\.0\.0, but \d+\.\d+\.\d+ is installed/],
      ["plugin-protocol-9.mjs", /speaks plugin protocol 9, @skyward\/core .* speaks 1/]
    ] as const) {
      const { code, output } = await mainHere(["--plugin", path.join(fixtures, file), ok])
      expect(code, output).toBe(2)
      expect(output).toMatch(pattern)
    }
    report({ fault: "bad CLI options / config / plugin version (51 cases)", happened: "one line naming the option or field (wrong types too: --nodes \"two\": expected a count such as 4, or MIN..MAX), exit 2", detectSeconds: "< 1 s", correct: true, left: [] })
  })
})

describe("a pip requirement that does not exist", () => {
  it("fails the bootstrap with pip's message and the node, and tears the pool down", async () => {
    // a fresh cache: the half-made environment of the failed build must not stay in it
    const cache = tempDir("cache")
    const result = await runCli(["run", "--quiet", "--nodes", "2", "--pip", "skyward-no-such-package-4242==1.0", ok], {
      env: { XDG_CACHE_HOME: cache },
      timeoutMs: 120_000
    })
    runs.push(result)
    expect(result.code, result.stderr).toBe(1)
    const line = skywardLines(result.stderr).join("\n")
    expect(line).toMatch(/pip install failed on node [01]/)
    expect(line).toMatch(/skyward-no-such-package-4242/)
    expect(line).toMatch(/No matching distribution|Could not find a version/)
    expect(await leftoversOf(result)).toEqual([])
    // a failed build leaves no half-made environment in the cache
    const envs = path.join(cache, "skyward", "envs")
    const left = fs.existsSync(envs) ? fs.readdirSync(envs) : []
    report({
      fault: "pip requirement that does not exist (2 nodes)",
      happened: `BootstrapError: ${line.replace(/^skyward: /, "").slice(0, 90)}…; exit 1`,
      detectSeconds: result.seconds,
      correct: true,
      left: left.map((d) => `cache env ${d}`)
    })
    expect(left).toEqual([])
    fs.rmSync(cache, { recursive: true, force: true })
  })
})
