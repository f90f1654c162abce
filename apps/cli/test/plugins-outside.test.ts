import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { skyward } from "./cli.js"

// Plugins OUTSIDE the repository and outside any Node project (no package.json above them, no
// node_modules next to them): their imports of @skyward/* and effect must find the CLI's copies.
// Inside the repository its node_modules would find them and hide the problem.
const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-plugins-outside-")))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
const env = { ...process.env, HOME: root }

const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
}

// a factory of options ({ key, value }) that sets the variable `key` in the Image, made with definePlugin
const envPlugin = `import { definePlugin } from "@skyward/contracts"
import { Effect } from "effect"
export default ({ key, value }) =>
  definePlugin({
    name: \`env-\${key}\`,
    image: (image) => ({ ...image, env: { ...image.env, [key]: typeof value === "string" ? value : JSON.stringify(value) } }),
    aroundClient: () => Effect.succeed({})
  })
`

// a plain file, a package folder (exports, no node_modules) and a package linked into a project's
// node_modules as `npm install ../linked-plugin` does (a symlink to a folder outside the project)
write(path.join(root, "plugins", "env-plugin.mjs"), envPlugin)
// the same as TypeScript source, typed with @skyward/core's types
write(
  path.join(root, "plugins", "env-plugin.ts"),
  `import { definePlugin, withEnv, type Plugin } from "@skyward/core"
export default ({ key, value }: { readonly key: string; readonly value: unknown }): Plugin =>
  definePlugin({ name: \`env-\${key}\`, image: (image) => withEnv(image, { [key]: String(value) }) })
`
)
write(path.join(root, "folder-plugin", "package.json"), JSON.stringify({ name: "folder-plugin", type: "module", exports: { ".": { import: "./index.js" } } }))
write(path.join(root, "folder-plugin", "index.js"), envPlugin)
write(path.join(root, "linked-plugin", "package.json"), JSON.stringify({ name: "linked-plugin", type: "module", exports: { ".": { import: "./dist/index.js" } } }))
write(path.join(root, "linked-plugin", "dist", "index.js"), envPlugin)
const project = path.join(root, "project")
write(path.join(project, "package.json"), JSON.stringify({ name: "project", private: true, dependencies: { "linked-plugin": "file:../linked-plugin" } }))
fs.mkdirSync(path.join(project, "node_modules"), { recursive: true })
fs.symlinkSync(path.join("..", "..", "linked-plugin"), path.join(project, "node_modules", "linked-plugin"))
write(path.join(project, "script.py"), "import os\nfor key in ['FILE', 'TS', 'FOLDER', 'LINKED']:\n    print(key, os.environ.get(key))\n")
write(path.join(project, "bare.mjs"), 'export default () => ({ name: "bare" })\n')

describe("--plugin outside a Node project, with options", () => {
  it("a file (JS or TS), a folder and a linked package importing @skyward/contracts, @skyward/core and effect load; NAME:key=value reaches the factory", async () => {
    const result = await skyward(
      [
        "run",
        "--quiet",
        "--nodes",
        "1",
        "--concurrency",
        "1",
        "--plugin",
        "../plugins/env-plugin.mjs:key=FILE,value=from a file",
        "--plugin",
        "../plugins/env-plugin.ts:key=TS,value=true",
        "--plugin",
        `${path.join(root, "folder-plugin")}:key=FOLDER,value=["a","b"]`,
        "--plugin",
        "linked-plugin:key=LINKED,value=3",
        "script.py"
      ],
      { cwd: project, env }
    )
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toBe('FILE from a file\nTS true\nFOLDER ["a","b"]\nLINKED 3\n')
  })

  it("refused with one line and exit code 2: options for a factory without parameters, a factory that needs options, bad syntax, an unknown plugin", async () => {
    const syntax = "the syntax is --plugin NAME:key=value,key=value (such as --plugin ./run-label.mjs:label=nightly,verbose=true)"
    const cases: Array<[string, string]> = [
      ["./bare.mjs:verbose=true", 'skyward: plugin "./bare.mjs" takes no options: its factory has no parameters (drop the options)'],
      [
        "linked-plugin",
        "skyward: plugin \"linked-plugin\" could not be made: its factory failed without options: Cannot destructure property 'key' of 'undefined' as it is undefined. " +
          "(if it needs options: --plugin linked-plugin:key=value,key=value)"
      ],
      ["linked-plugin:=3", `skyward: --plugin "linked-plugin:=3": options after ":" must be key=value pairs (keys: letters, digits and _); ${syntax}`],
      [
        "no-such-plugin-xyz:label=x",
        `skyward: unknown plugin "no-such-plugin-xyz": not a built-in (joblib, sklearn), and no package of that name is installed in ${project} (node_modules, here or above) or next to skyward`
      ]
    ]
    await Promise.all(
      cases.map(async ([value, message]) => {
        const result = await skyward(["run", "--quiet", "--plugin", value, "script.py"], { cwd: project, env })
        expect(result.code, value).toBe(2)
        expect(result.stderr, value).toBe(`${message}\n`)
      })
    )
  })
})
