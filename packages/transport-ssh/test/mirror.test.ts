import { execFileSync } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { pathToFileURL } from "node:url"
import type { ImageInput } from "@skyward/contracts"
import { droppedNote } from "@skyward/worker"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { SshTransportOptions } from "../src/index.js"
import { ensureWheelhouse, linuxPlatforms } from "../src/internal/wheelhouse.js"
import { createHosts, leftovers, sshdUnavailable, type TestHosts } from "./harness/hosts.js"
import { forgetWheelhouses, nodeOn, planOf, testTransport } from "./harness/sessions.js"

const noSshd = sshdUnavailable()
if (noSshd) console.warn(`skipping the SSH mirror tests: ${noSshd}`)

/** Writes a minimal pure-Python wheel of `skyward-probe-pkg` 1.0 into `dir` (as the mirror builds a local package's). */
const probeWheel = (dir: string): string => {
  const file = path.join(dir, "skyward_probe_pkg-1.0-py3-none-any.whl")
  const script = [
    "import sys, zipfile",
    "info = 'skyward_probe_pkg-1.0.dist-info/'",
    "files = {'skyward_probe_pkg/__init__.py': 'WHERE = \"local wheel\"\\n',",
    "         info + 'METADATA': 'Metadata-Version: 2.1\\nName: skyward-probe-pkg\\nVersion: 1.0\\n',",
    "         info + 'WHEEL': 'Wheel-Version: 1.0\\nGenerator: skyward-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'}",
    "files[info + 'RECORD'] = ''.join(name + ',,\\n' for name in list(files) + [info + 'RECORD'])",
    "with zipfile.ZipFile(sys.argv[1], 'w') as z:",
    "    for name, text in files.items(): z.writestr(name, text)"
  ].join("\n")
  execFileSync("python3", ["-c", script, file])
  return file
}

describe.skipIf(noSshd !== undefined)("a mirrored client environment over ssh (a loopback host)", () => {
  let hosts: TestHosts
  let hostPython: [number, number, number]
  let localWheel: string
  let platforms: string[]
  const hashes: string[] = []
  const label = () => `${hosts.hosts[0]!.user}@127.0.0.1:${hosts.hosts[0]!.port}`
  /** Where notes say node 0 installs: its Python and most specific platform. */
  const target = () => `Python ${hostPython[0]}.${hostPython[1]} on ${platforms[0]} (node 0, ${label()})`
  const mirrored = (input: ImageInput, ops: string[], options: SshTransportOptions = {}) => {
    const plan = planOf(input, { ops })
    hashes.push(plan.imageHash)
    const lines: string[] = []
    const run = () =>
      Effect.runPromise(
        Effect.either(Effect.scoped(Effect.flatMap(testTransport(options).connect(nodeOn(hosts, 0)), (session) => session.bootstrap(plan, (line) => lines.push(line)))))
      )
    return { plan, lines, run }
  }

  beforeAll(async () => {
    hosts = await createHosts(1, "loopback")
    // the hosts run the system's python3 (Debian: 3.11.2), the tests often another (pyenv's 3.11.7)
    const version = execFileSync("/usr/bin/python3", ["-c", "import sys; print(*sys.version_info[:3])"], { encoding: "utf8" }).trim().split(" ").map(Number)
    hostPython = [version[0]!, version[1]!, version[2]!]
    const [machine, glibc] = execFileSync("/usr/bin/python3", ["-c", "import platform; print(platform.machine(), platform.libc_ver()[1])"], { encoding: "utf8" }).trim().split(" ")
    platforms = linuxPlatforms(machine!, ["glibc", glibc!])
    localWheel = probeWheel(hosts.dir)
  })
  afterAll(async () => {
    for (const hash of hashes) forgetWheelhouses(hash)
    if (!hosts) return
    await hosts.teardown()
    expect(leftovers(hosts)).toEqual([])
  })

  it("ships wheels the client builds, leaves out a pin with no distribution with a note, and notes another Python patch version", async () => {
    const [major, minor, micro] = hostPython
    const clientPython = `${major}.${minor}.${micro + 1}`
    const missing = "skyward-no-such-package==1.0"
    const { plan, lines, run } = mirrored(
      {
        python: `${major}.${minor}`,
        // docopt publishes only an sdist: a pure-Python wheel of it is built on the client
        mirror: { python: clientPython, pip: ["docopt==0.6.2", missing, `skyward-probe-pkg @ ${pathToFileURL(localWheel).href}`] }
      },
      [`python -c 'import docopt, skyward_probe_pkg; print("imports:", docopt.__version__, skyward_probe_pkg.WHERE)'`]
    )
    const first = Either.getOrThrow(await run())
    const notes = [`node 0 (${label()}): Python ${hostPython.join(".")}, the client runs ${clientPython}`, droppedNote(missing, target())]
    expect(first.notes).toEqual(notes)
    expect(lines).toContain("imports: 0.6.2 local wheel")
    expect(lines.some((l) => l.startsWith("building a wheel of docopt==0.6.2 on the client"))).toBe(true)
    // the local wheel lies on the host under its content's hash: another build of 1.0 would not be taken for it
    const local = path.join(hosts.hosts[0]!.home, ".cache/skyward/wheels/local")
    expect(fs.readdirSync(local).map((d) => fs.readdirSync(path.join(local, d)))).toEqual([["skyward_probe_pkg-1.0-py3-none-any.whl"]])

    // the environment made, a second bootstrap says the same (from the host), and so does the cached wheelhouse
    const again = Either.getOrThrow(await run())
    expect(again.cached).toBe(true)
    expect(again.notes).toEqual(notes)
    const wheelhouse = await Effect.runPromise(
      ensureWheelhouse(plan.image, plan.imageHash, { pythonVersion: `${major}.${minor}`, abi: `cp${major}${minor}`, platforms, key: platforms[0]! }, "the test", () => undefined)
    )
    expect(wheelhouse).toMatchObject({ cached: true, dropped: [missing] })
  }, 240_000)

  it('leaves out a pin with no distribution on the node, and installs a local wheel from the host, with install: "index"', async () => {
    const [major, minor] = hostPython
    const missing = "skyward-no-such-package==1.0"
    const { lines, run } = mirrored(
      { python: `${major}.${minor}`, mirror: { python: hostPython.join("."), pip: [missing, `skyward-probe-pkg @ ${pathToFileURL(localWheel).href}`] } },
      [`python -c 'import skyward_probe_pkg; print("imports:", skyward_probe_pkg.WHERE)'`],
      { install: "index" }
    )
    const result = Either.getOrThrow(await run())
    // the same Python patch version as the client: only the missing pin is noted
    expect(result.notes).toEqual([droppedNote(missing, target())])
    expect(lines).toContain("imports: local wheel")
  }, 240_000)

  it("refuses a host without the client's Python minor version, saying what to install or change", async () => {
    const [major, minor] = hostPython
    const other = `${major}.${minor + 7}` // a version no host of the harness has
    const { run } = mirrored({ python: other, mirror: { python: `${other}.0`, pip: [] } }, [])
    const error = Either.getLeft(await run()).pipe((e) => (e._tag === "Some" ? e.value.message : ""))
    expect(error).toContain(`the workers mirror the client's Python ${other}.0 environment, but node 0 (${label()}) has Python ${hostPython.join(".")}`)
    expect(error).toContain(`install python${other} with its venv module there, or run skyward from a virtual environment of Python ${major}.${minor}`)
  })
})
