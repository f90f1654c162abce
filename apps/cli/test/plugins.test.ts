import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { skyward } from "./cli.js"

// A user's project with two third-party plugins installed in its own node_modules, as npm would
// install them: ESM packages whose `exports` offer only an `import` condition (no `require`).
const project = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-project-"))
afterAll(() => fs.rmSync(project, { recursive: true, force: true }))

const writePackage = (name: string, manifest: Record<string, unknown>, files: Record<string, string>) => {
  const dir = path.join(project, "node_modules", name)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", type: "module", ...manifest }))
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text)
}

// the shape of examples/plugin-task-timing: a default-exported factory of a plugin with an image hook
const envPlugin = (name: string, key: string, value: string) =>
  `export default () => ({ name: ${JSON.stringify(name)}, image: (image) => ({ ...image, env: { ...image.env, ${key}: ${JSON.stringify(value)} } }) })\n`

writePackage(
  "skyward-plugin-cwd-probe",
  { exports: { ".": { types: "./index.d.ts", import: "./index.js" } } },
  { "index.js": envPlugin("cwd-probe", "CWD_PROBE", "from the project's node_modules") }
)
writePackage(
  "@acme/skyward-plugins",
  { exports: { "./probe": { import: "./probe.js" }, "./package.json": "./package.json" } },
  { "probe.js": envPlugin("acme-probe", "ACME_PROBE", "a subpath of a scoped package") }
)
fs.writeFileSync(path.join(project, "script.py"), "import os\nprint(os.environ.get('CWD_PROBE'))\nprint(os.environ.get('ACME_PROBE'))\n")

describe("--plugin <npm package>", () => {
  it("is found in the node_modules of the current directory's project (exports with only `import` included)", async () => {
    const result = await skyward(["run", "--quiet", "--plugin", "skyward-plugin-cwd-probe", "--plugin", "@acme/skyward-plugins/probe", "script.py"], {
      cwd: project
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toBe("from the project's node_modules\na subpath of a scoped package\n")
  })

  it("from a subfolder of the project too, as node would find it", async () => {
    const sub = path.join(project, "jobs")
    fs.mkdirSync(sub, { recursive: true })
    fs.copyFileSync(path.join(project, "script.py"), path.join(sub, "script.py"))
    const result = await skyward(["run", "--quiet", "--plugin", "skyward-plugin-cwd-probe", "script.py"], { cwd: sub })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toBe("from the project's node_modules\nNone\n")
  })

  it("a subpath the package does not export, or a package not installed: one line naming it, exit code 2", async () => {
    const unexported = await skyward(["run", "--quiet", "--plugin", "@acme/skyward-plugins/other", "script.py"], { cwd: project })
    expect(unexported.code).toBe(2)
    expect(unexported.stderr).toBe('skyward: plugin "@acme/skyward-plugins/other" cannot be imported: @acme/skyward-plugins does not export "./other" for import\n')
    const missing = await skyward(["run", "--quiet", "--plugin", "skyward-plugin-not-installed", "script.py"], { cwd: project })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe(
      `skyward: unknown plugin "skyward-plugin-not-installed": not a built-in (joblib, sklearn), and no package of that name is installed in ${project} (node_modules, here or above) or next to skyward\n`
    )
  })
})
