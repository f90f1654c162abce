import { execFile } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createHosts, leftovers, netnsUnavailable, sshdUnavailable, type TestHosts } from "../../../packages/transport-ssh/test/harness/hosts.js"
import { repo, skyward } from "./cli.js"
import { lokyResultLines, pipOptions, resultLines } from "./loky.js"
import { makeProjectCopy, parseProjectRun } from "./project.js"

const exec = promisify(execFile)
const noSshd = sshdUnavailable()
const mode = (noSshd ?? netnsUnavailable()) === undefined ? "netns" : "loopback"

describe.skipIf(noSshd !== undefined)(`skyward run --provider ssh over 3 ${mode} hosts`, () => {
  let hosts: TestHosts

  beforeAll(async () => {
    hosts = await createHosts(3, mode)
  })
  afterAll(async () => {
    await hosts?.teardown()
    if (hosts) expect(leftovers(hosts)).toEqual([])
  })

  it("gives grid_search.py loky's result, with tasks on all 3 hosts", async () => {
    const script = path.join(repo, "examples/grid_search.py")
    const loky = await lokyResultLines(script)
    const list = hosts.hosts.map((h) => `${h.user}@${h.address}:${h.port}`).join(",")
    const ours = await skyward([
      "run", "--json", "--provider", "ssh", "--hosts", list, "--identity", hosts.keys.ed25519.file,
      "--known-hosts", hosts.knownHostsFile, "--concurrency", "1", "--plugin", "sklearn",
      ...pipOptions, "grid_search.py"
    ], { cwd: path.dirname(script) }) // from its folder: the working directory sent is examples/, not the repository
    expect(ours.code, ours.stderr.slice(-3000)).toBe(0)
    expect(resultLines(ours.stdout)).toEqual(loky)
    const events = ours.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { _tag: string; node?: number; address?: string })
    expect(new Set(events.filter((e) => e._tag === "TaskDone").map((e) => e.node))).toEqual(new Set([0, 1, 2]))
    expect(events.filter((e) => e._tag === "NodeProvisioned").map((e) => e.address)).toEqual(hosts.hosts.map((h) => h.address))
  })

  it("runs examples/project from its folder, its virtual environment mirrored on the hosts; a second run sends nothing", async () => {
    const project = await makeProjectCopy()
    try {
      const plain = parseProjectRun((await exec(project.python, ["main.py"], { cwd: project.dir, encoding: "utf8" })).stdout)
      const list = hosts.hosts.map((h) => `${h.user}@${h.address}:${h.port}`).join(",")
      const args = ["run", "--provider", "ssh", "--hosts", list, "--identity", hosts.keys.ed25519.file, "--known-hosts", hosts.knownHostsFile, "--concurrency", "1", "main.py"]
      const started = Date.now()
      const first = await skyward(args, { cwd: project.dir, env: project.activeEnv })
      const firstSeconds = (Date.now() - started) / 1000
      expect(first.code, first.stderr.slice(-3000)).toBe(0)
      const ours = parseProjectRun(first.stdout)
      expect(ours.results).toEqual(plain.results)
      expect(new Set(ours.tasks.map(([, node]) => node))).toEqual(new Set(["0", "1", "2"]))
      // the hosts run Debian's python3, the client another 3.11.x: said once per node, before the work
      const client = (await exec(project.python, ["-c", "import platform; print(platform.python_version())"], { encoding: "utf8" })).stdout.trim()
      const host = (await exec("/usr/bin/python3", ["-c", "import platform; print(platform.python_version())"], { encoding: "utf8" })).stdout.trim()
      if (client !== host) expect(first.stderr).toContain(`Python ${host}, the client runs ${client}`)
      const again = Date.now()
      const second = await skyward(args, { cwd: project.dir, env: project.activeEnv })
      console.log(`examples/project on 3 SSH hosts: first run ${firstSeconds.toFixed(1)} s, second ${((Date.now() - again) / 1000).toFixed(1)} s`)
      expect(second.code, second.stderr.slice(-3000)).toBe(0)
      expect(parseProjectRun(second.stdout).results).toEqual(plain.results)
      expect(second.stderr.match(/working directory 8 files, [\d.]+ KiB \(nothing new sent\)/g)).toHaveLength(3)
    } finally {
      project.remove()
    }
  })

  it("refuses a host whose key is not known, naming the host", async () => {
    const host = hosts.hosts[0]!
    const empty = path.join(hosts.dir, "empty_known_hosts")
    fs.writeFileSync(empty, "")
    const result = await skyward([
      "run", "--quiet", "--provider", "ssh", "--hosts", `${host.user}@${host.address}:${host.port}`,
      "--identity", hosts.keys.ed25519.file, "--known-hosts", empty, path.join(repo, "examples/joblib_sleep.py")
    ])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain(host.address)
    expect(result.stderr.toLowerCase()).toContain("host key")
  })
})
