import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { skyward } from "./cli.js"

// Everything here lives OUTSIDE the repository, in folders with no package.json or node_modules:
// inside the repository, its node_modules would find @skyward/* and hide what a user outside a
// Node project sees. HOME is the temporary root, so the config search stops there.
const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-discovery-")))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
const env = { ...process.env, HOME: root }

const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
}

const PROBE = "import os\nfor key in ['FROM_CONFIG', 'RUN_LABEL', 'LABEL_VERBOSE', 'FROM_TS']:\n    print(key, os.environ.get(key))\n"

// a plugin file as docs/plugins.md writes one: definePlugin from @skyward/contracts, a factory of options
const RUN_LABEL = `import { definePlugin } from "@skyward/contracts"
export default ({ label, verbose = false }) =>
  definePlugin({ name: "run-label", image: (image) => ({ ...image, env: { ...image.env, RUN_LABEL: label, LABEL_VERBOSE: JSON.stringify(verbose) } }) })
`

/** The script's `KEY value` lines and the notes (`--json`'s EnvironmentNote messages). */
const outcome = (result: { stdout: string; stderr: string }) => ({
  printed: Object.fromEntries(result.stdout.trim().split("\n").map((line) => line.split(" ", 2) as [string, string])),
  notes: result.stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { _tag: string; message?: string })
    .filter((event) => event._tag === "EnvironmentNote")
    .map((event) => event.message)
})

describe("skyward.config.* found from the current folder up", () => {
  it("a JSON config in a parent folder, naming plugins by name, path and {plugin, options}: used and named in the output", async () => {
    const project = path.join(root, "json-project")
    write(path.join(project, "plugins", "run-label.mjs"), RUN_LABEL)
    write(
      path.join(project, "skyward.config.json"),
      JSON.stringify({
        nodes: 1,
        worker: { concurrency: 1 },
        image: { env: { FROM_CONFIG: "json" } },
        plugins: ["joblib", { plugin: "./plugins/run-label.mjs", options: { label: "nightly", verbose: true } }]
      })
    )
    const deeper = path.join(project, "jobs", "deeper")
    write(path.join(deeper, "script.py"), PROBE)
    const result = await skyward(["run", "--json", "script.py"], { cwd: deeper, env })
    expect(result.code, result.stderr).toBe(0)
    const { printed, notes } = outcome(result)
    expect(printed).toEqual({ FROM_CONFIG: "json", RUN_LABEL: "nightly", LABEL_VERBOSE: "true", FROM_TS: "None" })
    expect(notes).toContain(`config file ${path.join(project, "skyward.config.json")} (found looking up from the current folder; --config FILE to use another)`)
  })

  it("a TS config in a folder with no package.json imports @skyward/core and effect (the CLI's own copies)", async () => {
    const project = path.join(root, "ts-project")
    write(
      path.join(project, "skyward.config.ts"),
      `import { local, type PoolOptionsInput } from "@skyward/core"
import { Effect } from "effect"
import * as Either from "effect/Either"

const label: string = Effect.runSync(Effect.succeed("from-ts"))
export default {
  provider: local(),
  nodes: 1,
  worker: { concurrency: 1 },
  image: { env: { FROM_TS: Either.isRight(Either.right(1)) ? label : "no" } }
} satisfies PoolOptionsInput
`
    )
    write(path.join(project, "script.py"), PROBE)
    const result = await skyward(["run", "--quiet", "script.py"], { cwd: project, env })
    expect(result.code, result.stderr).toBe(0)
    expect(outcome(result).printed).toEqual({ FROM_CONFIG: "None", RUN_LABEL: "None", LABEL_VERBOSE: "None", FROM_TS: "from-ts" })
    // found, not given: said even with --quiet
    expect(result.stderr).toBe(`skyward: note: config file ${path.join(project, "skyward.config.ts")} (found looking up from the current folder; --config FILE to use another)\n`)
  })

  it("the search stops at the home folder; --config wins over a config found", async () => {
    // a config above HOME is not found; one in HOME would be
    const outside = path.join(root, "above-home")
    write(path.join(outside, "skyward.config.json"), "{ not json")
    const home = path.join(outside, "home")
    const project = path.join(home, "project")
    write(path.join(project, "script.py"), "print('ran')\n")
    const notFound = await skyward(["run", "--quiet", "--nodes", "1", "--concurrency", "1", "script.py"], { cwd: project, env: { ...env, HOME: home } })
    expect(notFound.code, notFound.stderr).toBe(0)
    expect(notFound.stdout).toBe("ran\n")
    expect(notFound.stderr).not.toMatch(/config file/)
    // without the home boundary, the broken config above is found: its error names it
    const found = await skyward(["run", "--quiet", "script.py"], { cwd: project, env })
    expect(found.code).toBe(2)
    expect(found.stderr).toMatch(new RegExp(`^skyward: config file ${path.join(outside, "skyward.config.json")}: not valid JSON: `))
    // --config wins: the broken one is not even read
    const given = path.join(root, "given.config.json")
    write(given, JSON.stringify({ image: { env: { FROM_CONFIG: "given" } } }))
    const chosen = await skyward(["run", "--quiet", "--nodes", "1", "--concurrency", "1", "--config", given, "script.py"], { cwd: project, env })
    expect(chosen.code, chosen.stderr).toBe(0)
    // given, not found: not worth a line under --quiet
    expect(chosen.stderr).not.toMatch(/config file/)
  })
})

describe("config files refused with one line and exit code 2", () => {
  const refused = async (folder: string, files: Record<string, string>) => {
    const dir = path.join(root, folder)
    for (const [name, text] of Object.entries(files)) write(path.join(dir, name), text)
    write(path.join(dir, "script.py"), "print('never')\n")
    const result = await skyward(["run", "--quiet", "script.py"], { cwd: dir, env })
    expect(result.code, result.stderr).toBe(2)
    expect(result.stdout).toBe("")
    return { dir, line: result.stderr }
  }

  it("two config files in one folder", async () => {
    const { dir, line } = await refused("two", { "skyward.config.ts": "export default {}\n", "skyward.config.json": "{}" })
    expect(line).toBe(`skyward: ${dir} holds skyward.config.ts and skyward.config.json: keep one, or choose one with --config FILE\n`)
  })

  it("bad plugin entries: not a list, an unknown shape, options that are no object, an unknown plugin, options for a factory without parameters", async () => {
    const shapes = 'expected a plugin name ("joblib", "./my-plugin.mjs", a package), {"plugin": NAME, "options": {...}}, or a plugin object'
    const cases: Array<[unknown, (config: string) => string]> = [
      ["joblib", (c) => `skyward: config file ${c}: plugins must be a list of a plugin name ("joblib", "./my-plugin.mjs", a package), {"plugin": NAME, "options": {...}}, or a plugin object`],
      [[42], (c) => `skyward: config file ${c}: plugins[0]: 42 is no plugin; ${shapes}`],
      [["joblib", { plugin: "joblib", options: "fast" }], (c) => `skyward: config file ${c}: plugins[1]: "options" must be an object of the factory's options; ${shapes}`],
      [[{ plugin: "joblib", option: {} }], (c) => `skyward: config file ${c}: plugins[0]: unknown key "option" beside "plugin"; ${shapes}`],
      [
        ["skyward-plugin-nowhere"],
        (c) =>
          `skyward: config file ${c}: plugins[0]: unknown plugin "skyward-plugin-nowhere": not a built-in (joblib, sklearn), and no package of that name is installed in ${path.dirname(c)} (node_modules, here or above) or next to skyward`
      ],
      [
        [{ plugin: "./bare.mjs", options: { x: 1 } }],
        (c) => `skyward: config file ${c}: plugins[0]: plugin "./bare.mjs" takes no options: its factory has no parameters (drop the options)`
      ]
    ]
    await Promise.all(
      cases.map(async ([plugins, expected], index) => {
        const { dir, line } = await refused(`entries-${index}`, {
          "skyward.config.json": JSON.stringify({ plugins }),
          "bare.mjs": 'export default () => ({ name: "bare" })\n'
        })
        expect(line).toBe(`${expected(path.join(dir, "skyward.config.json"))}\n`)
      })
    )
  })
})
