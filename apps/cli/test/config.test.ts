import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { repo, skyward } from "./cli.js"

// A user's project: its config files import @skyward packages, found through its node_modules
// (here the CLI's own, linked in).
const project = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-config-"))
afterAll(() => fs.rmSync(project, { recursive: true, force: true }))
fs.symlinkSync(path.join(repo, "apps/cli/node_modules"), path.join(project, "node_modules"))
fs.writeFileSync(
  path.join(project, "script.py"),
  [
    "import os",
    "from joblib import effective_n_jobs",
    "print('slots', effective_n_jobs(-1))",
    "print('FROM_CONFIG', os.environ.get('FROM_CONFIG'))",
    "print('FROM_PLUGIN', os.environ.get('FROM_PLUGIN'))",
    "print('FROM_FLAG', os.environ.get('FROM_FLAG'))",
    ""
  ].join("\n")
)

/** The script's `key value` lines, and the pool's events (`--json`) that say how it was made. */
const outcome = (result: { stdout: string; stderr: string }) => {
  const printed = Object.fromEntries(result.stdout.trim().split("\n").map((line) => line.split(" ", 2) as [string, string]))
  const events = result.stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { _tag: string; slots?: number; address?: string })
  const ready = events.filter((e) => e._tag === "NodeReady")
  const addresses = events.filter((e) => e._tag === "NodeProvisioned").map((e) => e.address)
  return { printed, nodes: ready.length, slotsPerNode: ready.map((e) => e.slots), addresses }
}

describe("skyward run --config", () => {
  it("skyward.config.json gives the pool options; a flag overrides one of them", async () => {
    const config = path.join(project, "skyward.config.json")
    fs.writeFileSync(config, JSON.stringify({ nodes: 2, worker: { concurrency: 3 }, image: { env: { FROM_CONFIG: "json" } } }))
    const result = await skyward(["run", "--json", "--config", config, "--nodes", "1", "--plugin", "joblib", "script.py"], { cwd: project })
    expect(result.code, result.stderr).toBe(0)
    const { printed, nodes, slotsPerNode } = outcome(result)
    expect(nodes).toBe(1) // --nodes 1 over the config's 2
    expect(slotsPerNode).toEqual([3]) // the config's concurrency
    expect(printed).toEqual({ slots: "3", FROM_CONFIG: "json", FROM_PLUGIN: "None", FROM_FLAG: "None" })
  })

  it("skyward.config.ts gives nodes, concurrency, plugins and a provider; flags override them (--provider local included)", async () => {
    const config = path.join(project, "skyward.config.ts")
    fs.writeFileSync(
      config,
      `import type { Plugin, PoolOptionsInput } from "@skyward/contracts"
import { joblib } from "@skyward/plugin-joblib"
import { ssh } from "@skyward/provider-ssh"

const fromConfig: Plugin = { name: "from-config", image: (image) => ({ ...image, env: { ...image.env, FROM_PLUGIN: "yes" } }) }
const nodes: number = 2

export default {
  // nothing listens on port 1: without --provider local winning, the run would fail to connect
  provider: ssh({ hosts: ["nobody@127.0.0.1:1"] }),
  nodes,
  worker: { concurrency: 3 },
  image: { env: { FROM_CONFIG: "ts" } },
  plugins: [joblib(), fromConfig]
} satisfies PoolOptionsInput
`
    )
    const result = await skyward(
      ["run", "--json", "--config", config, "--provider", "local", "--concurrency", "1", "--env", "FROM_FLAG=flag", "script.py"],
      { cwd: project }
    )
    expect(result.code, result.stderr).toBe(0)
    const { printed, nodes, slotsPerNode, addresses } = outcome(result)
    expect(addresses).toEqual(["localhost", "localhost"]) // local nodes, not the config's ssh host
    expect(nodes).toBe(2) // the config's nodes
    expect(slotsPerNode).toEqual([1, 1]) // --concurrency 1 over the config's 3
    expect(printed).toEqual({ slots: "2", FROM_CONFIG: "ts", FROM_PLUGIN: "yes", FROM_FLAG: "flag" })
  })
})
