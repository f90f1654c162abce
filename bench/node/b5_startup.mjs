// B5 start-up: time to a ready `nodes`-node local pool (every agent said hello), through the
// public Promise API. Warm = the environment is cached; cold = run with a fresh XDG_CACHE_HOME
// (the harness sets it), so the venv is created and pip downloads everything.
//   node bench/node/b5_startup.mjs [--nodes 4] [--concurrency 2] [--mode warm|cold]
// Prints one `BENCH_RESULT {json}` line.
const t0 = performance.now()
const { ComputePool } = await import("../../packages/core/dist/index.js")
const tImported = performance.now()

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
// a small project's folder travels with every pool, as a user's does: examples/project (8 files, 11 KiB)
const workdir = new URL("../../examples/project", import.meta.url).pathname
const nodes = Number(arg("nodes", 4))
const concurrency = Number(arg("concurrency", 2))
const mode = arg("mode", "warm")

const marks = {}
const listener = (event) => {
  const at = (performance.now() - tStart) / 1000
  if (event._tag === "NodeBootstrapped") marks[`bootstrapped_${event.node}`] = at
  if (event._tag === "NodeReady") marks[`ready_${event.node}`] = at
}
const tStart = performance.now()
let tReady = 0
let cached
await ComputePool.use(
  { nodes, worker: { concurrency }, workdir },
  async (pool) => {
    tReady = performance.now()
    if (pool.totalSlots !== nodes * concurrency) throw new Error(`slots ${pool.totalSlots}`)
  },
  (event) => {
    listener(event)
    if (event._tag === "NodeBootstrapped") cached = event.cached
  }
)
const tClosed = performance.now()
// the same pool again in this process: what a long-lived Node program pays per pool (code loaded, JIT warm)
const tAgain = performance.now()
let tAgainReady = 0
await ComputePool.use({ nodes, worker: { concurrency }, workdir }, async () => {
  tAgainReady = performance.now()
})
const result = {
  case: "B5",
  mode,
  nodes,
  concurrency,
  cached_environment: cached,
  ready_seconds: (tReady - tStart) / 1000,
  import_seconds: (tImported - t0) / 1000,
  close_seconds: (tClosed - tReady) / 1000,
  second_pool_ready_seconds: (tAgainReady - tAgain) / 1000,
  first_bootstrapped_seconds: Math.min(...Object.entries(marks).filter(([k]) => k.startsWith("bootstrapped")).map(([, v]) => v)),
  marks
}
process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`)
