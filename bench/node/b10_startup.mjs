// B10 start-up against node count (issue 27): time to a ready pool over the SSH hosts given on the
// command line (every agent said hello), through the public Promise API with the `ssh` provider.
//   node bench/node/b10_startup.mjs --hosts u0@10.231.0.2:22,u1@... --identity KEY --known-hosts FILE
//        [--mode warm|cold] [--concurrency 1] [--pip SPEC ...] [--cpu-counter FILE]
// warm: the hosts' environments exist (a cached venv in each host's ~/.cache/skyward).
// cold: first removes each host's ~/.cache/skyward over SSH (`ssh` with the same key and known_hosts;
//   not timed), so every host gets its wheels uploaded, its venv made from them, its modules and the
//   working directory sent. The client's own cache (SKYWARD_CACHE_DIR: the wheelhouse built on this
//   machine) is left as it is: the harness warms it first, so cold measures the hosts, not PyPI.
// Every node gets examples/project as its working directory, as B5's do.
// Prints one `BENCH_RESULT {json}` line: ready_seconds, and per node when it connected (bootstrap
// started), its bootstrap phases (first line of each kind, seconds from the pool's start), bootstrapped
// and ready, so where the time goes shows for 1, 4 or 16 hosts. With --cpu-counter (a cgroup's
// cpuacct.usage or cpu.stat holding the hosts' sshd: bench/startup.py), also the CPU-seconds the hosts
// spent from the pool's start to ready (`host_cpu_to_ready_seconds`).
import { execFileSync } from "node:child_process"
import fs from "node:fs"

const t0 = performance.now()
const { ComputePool } = await import("../../packages/core/dist/index.js")
const { ssh } = await import("../../packages/provider-ssh/dist/index.js")
const tImported = performance.now()

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const args = (name) => process.argv.flatMap((a, i) => (a === `--${name}` ? [process.argv[i + 1]] : []))
const hosts = String(arg("hosts", "")).split(",").filter(Boolean)
const identity = arg("identity")
const knownHosts = arg("known-hosts")
const mode = arg("mode", "warm")
const concurrency = Number(arg("concurrency", 1))
const pip = args("pip")
const counter = arg("cpu-counter")
const hostCpu = () => {
  if (!counter) return undefined
  const text = fs.readFileSync(counter, "utf8")
  return counter.endsWith("cpu.stat") ? Number(/usage_usec (\d+)/.exec(text)?.[1]) / 1e6 : Number(text) / 1e9
}
if (hosts.length === 0 || !identity || !knownHosts) {
  process.stderr.write("usage: b10_startup.mjs --hosts u@h:p,... --identity KEY --known-hosts FILE [--mode warm|cold]\n")
  process.exit(2)
}
const workdir = new URL("../../examples/project", import.meta.url).pathname

// cold: each host's Skyward folder goes (the environment, wheels, modules and file store), in parallel
const resetSeconds = (() => {
  if (mode !== "cold") return 0
  const t = performance.now()
  const children = hosts.map((spec) => {
    const m = /^(?:([^@]+)@)?([^:]+)(?::(\d+))?$/.exec(spec)
    if (!m) throw new Error(`bad host ${spec}`)
    const [, user, host, port] = m
    return ["ssh", "-i", identity, "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
      "-o", "GlobalKnownHostsFile=/dev/null", "-p", port ?? "22", `${user ? `${user}@` : ""}${host}`, "rm -rf ~/.cache/skyward"]
  })
  // a shell runs them together and waits for all
  const script = children.map((argv) => `${argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ")} &`).join("\n") + "\nwait\n"
  execFileSync("sh", ["-c", script], { stdio: ["ignore", "inherit", "inherit"] })
  return (performance.now() - t) / 1000
})()

const nodes = {}
const nodeOf = (i) => (nodes[i] ??= { phases: {} })
// the first line of each kind of bootstrap output, per node: when that phase began
const phaseOf = (line) =>
  line.startsWith("building the wheelhouse") ? "wheelhouse_build"
    : line.startsWith("uploading ") ? "wheels_upload"
      : line.startsWith("waiting for another") ? "env_lock_wait"
        : line.startsWith("creating virtual environment") ? "venv"
          : /^(Processing|Installing collected|Successfully installed)/.test(line) ? "pip_" + line.split(" ")[0].toLowerCase()
            : line.startsWith("sending ") ? "workdir_upload"
              : undefined
const cpuAtStart = hostCpu()
const clientCpu = () => (process.cpuUsage().user + process.cpuUsage().system) / 1e6
const clientAtStart = clientCpu()
let cpuAtReady
let clientAtReady = 0
const tStart = performance.now()
const at = () => (performance.now() - tStart) / 1000
let tReady = 0
await ComputePool.use(
  {
    provider: ssh({ hosts, key: identity, knownHostsFiles: [knownHosts] }),
    nodes: hosts.length,
    worker: { concurrency },
    workdir,
    ...(pip.length > 0 ? { image: { pip } } : {})
  },
  async (pool) => {
    tReady = performance.now()
    cpuAtReady = hostCpu()
    clientAtReady = clientCpu()
    if (pool.totalSlots !== hosts.length * concurrency) throw new Error(`slots ${pool.totalSlots}`)
  },
  (event) => {
    if (!("node" in event)) return
    const n = nodeOf(event.node)
    if (event._tag === "NodeBootstrapping") {
      const phase = phaseOf(event.line)
      if (phase && n.phases[phase] === undefined) n.phases[phase] = at()
    } else if (event._tag === "NodeBootstrapped") {
      n.bootstrapped = at()
      n.connected = n.bootstrapped - event.seconds
      n.cached = event.cached
    } else if (event._tag === "NodeReady") n.ready = at()
  }
)
const tClosed = performance.now()
const list = Object.values(nodes)
const spread = (key) => {
  const values = list.map((n) => n[key]).filter((v) => typeof v === "number")
  return values.length ? { min: Math.min(...values), max: Math.max(...values) } : null
}
const result = {
  case: "B10",
  mode,
  hosts: hosts.length,
  concurrency,
  pip,
  cached_environments: list.filter((n) => n.cached).length,
  ready_seconds: (tReady - tStart) / 1000,
  import_seconds: (tImported - t0) / 1000,
  reset_seconds: resetSeconds,
  close_seconds: (tClosed - tReady) / 1000,
  ...(cpuAtStart === undefined ? {} : { host_cpu_to_ready_seconds: cpuAtReady - cpuAtStart }),
  // this Node process's CPU from its start to the pool closed (its children's, pip download, not included)
  client_cpu_seconds: clientCpu(),
  // from the pool's start to ready: the client's share of the same cores
  client_cpu_to_ready_seconds: clientAtReady - clientAtStart,
  connected: spread("connected"),
  bootstrapped: spread("bootstrapped"),
  ready: spread("ready"),
  nodes
}
process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`)
