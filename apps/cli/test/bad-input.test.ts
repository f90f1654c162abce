import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { HelpDoc, ValidationError } from "@effect/cli"
import { afterAll, describe, expect, it } from "vitest"
import { splitScriptArgs } from "../src/index.js"
import { validationMessage } from "../src/internal/argv.js"
import { repo, skyward } from "./cli.js"
import { processesMarked } from "./processes.js"

const scriptDir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-ok-"))
const script = path.join(scriptDir, "script.py")
afterAll(() => fs.rmSync(scriptDir, { recursive: true, force: true }))
fs.writeFileSync(script, "print('hello')\n")

// from the scripts' own folder, as a user runs them: the working directory that travels holds them
const run = (args: ReadonlyArray<string>) => skyward(args, { cwd: scriptDir })

const oneLine = (stderr: string) => stderr.trim().split("\n").filter((l) => l.startsWith("skyward:"))

// each case is its own CLI process: they run side by side
describe.concurrent("skyward run refuses bad input with one line and exit code 2", () => {
  it("a missing script", async () => {
    const result = await run(["run", "--quiet", "does-not-exist.py"])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)).toEqual(["skyward: script not found: does-not-exist.py"])
  })

  it("a script with a syntax error: refused before any node is provisioned, nothing left running", async () => {
    const cases = [
      ["import os\n\ndef f(:\n    pass\n", "line 3: SyntaxError: invalid syntax"],
      ["x = 1\n    y = 2\n", "line 2: IndentationError: unexpected indent"]
    ] as const
    // both at once, each its own script
    const runs = await Promise.all(
      cases.map(async ([source, error], index) => {
        const bad = path.join(scriptDir, `bad${index}.py`)
        fs.writeFileSync(bad, source)
        const marker = `SKYWARD_TEST_MARK=${randomUUID()}`
        return { bad, error, marker, result: await run(["run", "--json", "--nodes", "2", "--plugin", "joblib", "--env", marker, bad]) }
      })
    )
    for (const { bad, error, marker, result } of runs) {
      expect(result.code, result.stderr).toBe(2)
      expect(oneLine(result.stderr)).toEqual([`skyward: ${bad} ${error}`])
      // --json prints every pool event: there is none, no node was even provisioned
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
      expect(result.stdout).toBe("")
      expect(processesMarked(marker)).toEqual([])
    }
  })

  it("--nodes 0, or a range upside down", async () => {
    for (const nodes of ["0", "3..1"]) {
      const result = await run(["run", "--quiet", "--nodes", nodes, script])
      expect(result.code).toBe(2)
      expect(oneLine(result.stderr)[0]).toBe(
        `skyward: --nodes "${nodes}": expected a count such as 4, or MIN..MAX such as 1..4 (MIN at least 1, MAX at least MIN)`
      )
    }
  })

  it("an unknown plugin", async () => {
    const result = await run(["run", "--quiet", "--plugin", "no-such-plugin-xyz", script])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)[0]).toMatch(/^skyward: unknown plugin "no-such-plugin-xyz"/)
  })

  it("a malformed --env, or --env KEY with KEY not set", async () => {
    const { SKYWARD_TEST_UNSET: _, ...env } = process.env
    const refusals = []
    for (const [value, message] of [
      [
        "SKYWARD_TEST_UNSET",
        "skyward: --env SKYWARD_TEST_UNSET: SKYWARD_TEST_UNSET is not set in the environment skyward run was started in: " +
          "set it (export SKYWARD_TEST_UNSET=...), or use --env SKYWARD_TEST_UNSET=VALUE or --env-file"
      ],
      ["1ABC=x", 'skyward: --env: "1ABC" is not a valid variable name (letters, digits and _, not starting with a digit)'],
      ["=x", 'skyward: --env: "" is not a valid variable name (letters, digits and _, not starting with a digit)'],
      ["MY-VAR", 'skyward: --env: "MY-VAR" is not a valid variable name (letters, digits and _, not starting with a digit)']
    ] as const)
      refusals.push(skyward(["run", "--quiet", "--env", value, script], { cwd: scriptDir, env }).then((result) => ({ value, message, result })))
    for (const { value, message, result } of await Promise.all(refusals)) {
      expect(result.code, value).toBe(2)
      expect(oneLine(result.stderr), value).toEqual([message])
    }
  })

  it("a missing or malformed --env-file, or a config's envFile", async () => {
    const missing = path.join(scriptDir, "missing.env")
    const malformed = path.join(scriptDir, "malformed.env")
    fs.writeFileSync(malformed, "# fine\nOK=1\nnot a variable line\nNEXT=2\n")
    const config = path.join(scriptDir, "env-file.config.json")
    fs.writeFileSync(config, JSON.stringify({ envFile: ["missing.env"] }))
    const notAList = path.join(scriptDir, "env-file-number.config.json")
    fs.writeFileSync(notAList, JSON.stringify({ envFile: 3 }))
    const refusals = []
    for (const [args, message] of [
      [["--env-file", missing], `skyward: --env-file ${JSON.stringify(missing)}: cannot read it: no such file`],
      [
        ["--env-file", malformed],
        `skyward: --env-file ${JSON.stringify(malformed)}: line 3 is not KEY=VALUE with a valid variable name (letters, digits and _, not starting with a digit)`
      ],
      [["--config", config], `skyward: config file ${config}: envFile ${JSON.stringify(missing)}: cannot read it: no such file`],
      [["--config", notAList], `skyward: config file ${notAList}: envFile must be a file path or a list of them`]
    ] as const)
      // `node -- bin.js`: see below for why Node itself may answer first without the `--`
      refusals.push(skyward(["run", "--quiet", ...args, script], { cwd: scriptDir, nodeArgs: ["--"] }).then((result) => ({ args, message, result })))
    for (const { args, message, result } of await Promise.all(refusals)) {
      expect(result.code, args.join(" ")).toBe(2)
      expect(oneLine(result.stderr), args.join(" ")).toEqual([message])
    }
  })

  it("a missing --env-file, given to the `skyward` command itself (its shebang and bin/skyward end Node's own options)", async () => {
    // Node's start-up looks for --env-file anywhere on its command line, also after the script's
    // path (nodejs/node#54232): only after `--` is it the CLI's. Each way a user starts skyward passes it.
    const missing = path.join(scriptDir, "missing.env")
    const shebang = fs.readFileSync(path.join(repo, "apps/cli/dist/bin.js"), "utf8").split("\n")[0]
    expect(shebang).toBe("#!/usr/bin/env -S node --")
    const wrapper = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile("bash", [path.join(repo, "bin/skyward"), "run", "--quiet", "--env-file", missing, script], { cwd: scriptDir }, (error, _stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stderr })
      )
    })
    expect(wrapper).toEqual({ code: 2, stderr: `skyward: --env-file ${JSON.stringify(missing)}: cannot read it: no such file\n` })
  })

  it("a malformed --argument-limit", async () => {
    const result = await run(["run", "--quiet", "--argument-limit", "lots", script])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)).toEqual(['skyward: --argument-limit "lots": expected a size such as 2GiB, 500M or 100000000'])
  })

  it("a malformed pip requirement", async () => {
    const result = await run(["run", "--quiet", "--pip", "numpy===", script])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)[0]).toMatch(/image\.pip\.0: malformed pip requirement/)
  })

  it("a config file that throws", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-bad-config-"))
    try {
      const config = path.join(dir, "skyward.config.mjs")
      fs.writeFileSync(config, "throw new Error('config exploded')\n")
      const result = await run(["run", "--quiet", "--config", config, script])
      expect(result.code).toBe(2)
      expect(oneLine(result.stderr)[0]).toMatch(/config exploded/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("an unknown option or a wrong type: one line naming the option, also with --json", async () => {
    const refusals = []
    for (const [args, message] of [
      [["--bogus"], "skyward: unknown option --bogus (see skyward run --help)"],
      [["--nodez", "2"], "skyward: unknown option --nodez; did you mean --nodes? (see skyward run --help)"],
      [["--nodes", "two"], 'skyward: --nodes "two": expected a count such as 4, or MIN..MAX such as 1..4 (MIN at least 1, MAX at least MIN)'],
      [["--scale-down-after", "soon"], 'skyward: --scale-down-after "soon": expected a duration such as 90s, 2m or 1h'],
      [["--json", "--timeout", "soon"], 'skyward: --timeout expects a number, got "soon"'],
      [["--executor", "fork"], 'skyward: --executor expects process or thread, got "fork"']
    ] as const)
      refusals.push(run(["run", ...args, script]).then((result) => ({ args, message, result })))
    for (const { args, message, result } of await Promise.all(refusals)) {
      expect(result.code, args.join(" ")).toBe(2)
      expect(result.stderr.trim().split("\n"), args.join(" ")).toEqual([message])
    }
  })

  it("skyward ls / down: wrong options are refused the same way", async () => {
    const refusals = []
    for (const [args, message] of [
      [["ls", "--regoin", "x"], "skyward: unknown option --regoin; did you mean --region? (see skyward ls --help)"],
      [["ls", "--json=maybe"], 'skyward: --json takes no value, got "maybe"'],
      [["down", "--all", "--bogus"], "skyward: unknown option --bogus (see skyward down --help)"],
      [["down", "pool-a", "pool-b"], 'skyward: unexpected argument "pool-b" (see skyward down --help)']
    ] as const)
      refusals.push(skyward(args).then((result) => ({ args, message, result })))
    for (const { args, message, result } of await Promise.all(refusals)) {
      expect(result.code, args.join(" ")).toBe(2)
      expect(result.stderr.trim().split("\n"), args.join(" ")).toEqual([message])
    }
  })
})

describe("the script's own exit code", () => {
  it("a script that fails at runtime exits with its code, after the pool is torn down", async () => {
    const failing = path.join(scriptDir, "exit7.py")
    fs.writeFileSync(failing, "import sys\nprint('about to fail', flush=True)\nsys.exit(7)\n")
    const marker = `SKYWARD_TEST_MARK=${randomUUID()}`
    const result = await run(["run", "--quiet", "--nodes", "2", "--concurrency", "1", "--env", marker, failing])
    expect(result.code, result.stderr).toBe(7)
    expect(result.stdout).toBe("about to fail\n")
    expect(result.stderr).not.toMatch(/^skyward:/m)
    expect(processesMarked(marker)).toEqual([])
  })
})

describe("the command line check names the option", () => {
  const refusal = (args: ReadonlyArray<string>) => {
    try {
      splitScriptArgs(args)
    } catch (error) {
      return (error as Error).message
    }
    return undefined
  }

  it.each([
    [["run", "--concurrency", "many", "a.py"], '--concurrency expects an integer, got "many"'],
    [["run", "--retries", "x", "a.py"], '--retries expects an integer, got "x"'],
    [["run", "--timeout", "soon", "a.py"], '--timeout expects a number, got "soon"'],
    [["run", "--ttl", "forever", "a.py"], '--ttl expects a number, got "forever"'],
    [["run", "--provider", "cloud9", "a.py"], '--provider expects local, ssh or aws, got "cloud9"'],
    [["run", "--executor", "fork", "a.py"], '--executor expects process or thread, got "fork"'],
    [["run", "--allocation", "cheap", "a.py"], '--allocation expects spot, on-demand or spot-if-available, got "cheap"'],
    [["run", "--address", "nowhere", "a.py"], '--address expects public or private, got "nowhere"'],
    [["run", "--log-level", "loud", "a.py"], '--log-level expects all, trace, debug, info, warning, error, fatal or none, got "loud"'],
    [["run", "--identity", os.tmpdir(), "a.py"], `--identity expects a file, got the directory ${JSON.stringify(os.tmpdir())}`],
    [["run", "--quiet=maybe", "a.py"], '--quiet takes no value, got "maybe"'],
    [["run", "--nodes", "2", "--nodes", "3", "a.py"], "--nodes may be given only once"],
    [["run", "--nodes"], "--nodes needs a value"],
    [["run", "--hosts"], "--hosts needs a value"],
    [["run", "--quiet"], "missing <script.py> (see skyward run --help)"],
    [["run", "--nodez", "2", "a.py"], "unknown option --nodez; did you mean --nodes? (see skyward run --help)"],
    [["run", "--bogus", "a.py"], "unknown option --bogus (see skyward run --help)"],
    [["ls", "--nodes", "2"], "--nodes is an option of skyward run and skyward up, not of skyward ls (see skyward ls --help)"],
    [["ls", "extra"], 'unexpected argument "extra" (see skyward ls --help)'],
    [["down", "--all=maybe"], '--all takes no value, got "maybe"'],
    [["--bogus"], "unknown option --bogus (see skyward --help)"],
    [["bogus"], 'unknown command "bogus"; use one of attach, cache, down, ls, run or up (see skyward --help)']
  ])("%j: %s", (args, message) => {
    expect(refusal(args)).toBe(message)
  })

  it("accepts what @effect/cli accepts", () => {
    for (const args of [
      ["run", "--nodes", "-3", "--timeout", "1e3", "--retries=0", "a.py"],
      ["run", "--quiet", "false", "--provider=aws", "--allocation", "spot", "a.py"],
      ["run", "--log-level", "debug", "--pip", "a", "--pip", "b", "a.py"],
      ["--log-level", "debug", "run", "a.py"],
      ["ls", "--json", "--region", "eu-west-1"],
      ["down", "pool-1", "--region", "eu-west-1"],
      ["down", "--all"]
    ])
      expect(refusal(args), args.join(" ")).toBeUndefined()
  })

  it("an @effect/cli error that gets past the check is still one line", () => {
    const doc = HelpDoc.blocks([HelpDoc.p("Received unknown argument: 'x'"), HelpDoc.p("second paragraph")])
    expect(validationMessage(ValidationError.invalidValue(doc))).toBe("Received unknown argument: 'x'; second paragraph")
    expect(validationMessage(ValidationError.invalidArgument(HelpDoc.empty))).toBe("invalid command line (InvalidArgument; see skyward --help)")
  })

  it("--help anywhere shows the command's help instead of a complaint", () => {
    expect(splitScriptArgs(["run", "--nodes", "two", "--help"])).toEqual({ ours: ["run", "--help"], theirs: [] })
  })
})

describe("script arguments", () => {
  it("belong to the script after its path", () => {
    expect(splitScriptArgs(["run", "--nodes", "2", "a.py", "--nodes", "9", "x"])).toEqual({
      ours: ["run", "--nodes", "2", "a.py"],
      theirs: ["--nodes", "9", "x"]
    })
    expect(splitScriptArgs(["run", "--log-level", "debug", "--", "a.py", "--bogus"])).toEqual({
      ours: ["run", "--log-level", "debug", "a.py"],
      theirs: ["--bogus"]
    })
  })
})
