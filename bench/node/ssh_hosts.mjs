// Network-namespace SSH hosts for the bench's `skyward-ssh` backend (issue 7: B1–B3 over the SSH
// transport). Makes N hosts with the transport's own test harness
// (packages/transport-ssh/test/harness/hosts.ts): each a real sshd in its own network namespace,
// reached over a veth pair, with its own Unix user and home directory.
//   node bench/node/ssh_hosts.mjs [--hosts 4]
// Prints ONE JSON line on stdout:
//   {"ok":true,"hosts":["user@10.231.x.y:22",...],"identity":FILE,"known_hosts":FILE,"namespaces":[NS,...],...}
// (each host's network namespace, in the order of "hosts": bench/dask_hosts.py runs a `dask worker` in it)
// or {"ok":false,"unavailable":"why"} (and exits 0) when such hosts cannot be made here.
// Then keeps the hosts until its stdin closes or it gets SIGTERM/SIGINT/SIGHUP, tears everything
// down (sshd and every session, namespaces, veths, users, files), prints
//   {"torn_down":true,"leftovers":[...]}
// and exits (1 when something was left). hosts.ts is TypeScript: it is loaded through tsx, which
// the workspace already has (packages/release-tests' devDependency), without a build step.
import { createRequire } from "node:module"
import path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const count = Number(arg("hosts", 4))
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)

let hosts // TestHosts once made
let done = false
const finish = (why) => {
  if (done) return
  done = true
  if (!hosts) process.exit(130) // hosts.ts tears down a half-made set on exit
  process.stderr.write(`ssh_hosts: tearing down ${hosts.hosts.length} hosts (${why})\n`)
  hosts.teardown()
  const left = leftovers(hosts)
  say({ torn_down: true, leftovers: left })
  process.exit(left.length === 0 ? 0 : 1)
}
// before createHosts: these run ahead of hosts.ts' own exit hooks, so the leftovers get reported
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => finish(signal))

const loadTsx = async () => {
  const errors = []
  for (const from of ["packages/release-tests/package.json", "package.json", "packages/fault-tests/package.json"]) {
    try {
      // tsx/esm/api's "import" entry (require.resolve would pick the CommonJS one)
      const pkg = createRequire(path.join(root, from)).resolve("tsx/package.json")
      return await import(pathToFileURL(path.join(path.dirname(pkg), "dist/esm/api/index.mjs")).href)
    } catch (error) {
      errors.push(`${from}: ${error.message.split("\n")[0]}`)
    }
  }
  throw new Error(`tsx not found (npx -y pnpm@10 install): ${errors.join("; ")}`)
}

let leftovers
try {
  const { tsImport } = await loadTsx()
  const harness = await tsImport(pathToFileURL(path.join(root, "packages/transport-ssh/test/harness/hosts.ts")).href, import.meta.url)
  leftovers = harness.leftovers
  const unavailable = harness.sshdUnavailable() ?? harness.netnsUnavailable()
  if (unavailable) {
    say({ ok: false, unavailable })
    process.exit(0)
  }
  // the hosts' users must read their keys and homes: make them under /tmp, not a private TMPDIR
  process.env.TMPDIR = "/tmp"
  const t0 = performance.now()
  hosts = await harness.createHosts(count, "netns")
  say({
    ok: true,
    hosts: hosts.hosts.map((h) => `${h.user}@${h.address}:${h.port}`),
    identity: hosts.keys.ed25519.file,
    known_hosts: hosts.knownHostsFile,
    dir: hosts.dir,
    namespaces: hosts.hosts.map((h) => h.netns),
    users: hosts.hosts.map((h) => h.user),
    create_seconds: (performance.now() - t0) / 1000
  })
} catch (error) {
  say({ ok: false, unavailable: `could not make namespace SSH hosts: ${String(error?.message ?? error).split("\n")[0]}` })
  process.exit(hosts ? 1 : 0)
}
process.stdin.on("data", () => {}) // anything written is ignored; only the close matters
process.stdin.on("end", () => finish("stdin closed"))
process.stdin.on("close", () => finish("stdin closed"))
process.stdin.on("error", () => finish("stdin error"))
process.stdin.resume()
