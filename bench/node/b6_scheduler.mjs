// B6 scheduler scale, simulated: core's Scheduler driven directly by an in-process fake of
// `nodes` x `slots`; `tasks` no-op tasks. Run with --expose-gc.
//   node --expose-gc bench/node/b6_scheduler.mjs [--tasks 1000000] [--nodes 1000] [--slots 32]
// Prints one `BENCH_RESULT {json}` line.
// the scheduler alone, without agents: engine internals, not part of @skyward/core's door
import { EventHub } from "../../packages/core/dist/internal/event-hub.js"
import { Scheduler } from "../../packages/core/dist/internal/scheduler.js"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const TASKS = arg("tasks", 1_000_000)
const NODES = arg("nodes", 1_000)
const SLOTS = arg("slots", 32)
if (typeof global.gc !== "function") throw new Error("run with node --expose-gc")

const gcHeap = () => {
  global.gc()
  global.gc()
  return process.memoryUsage().heapUsed
}

const SPEC = Object.freeze({ kind: "pickle", payload: new Uint8Array(16) })
const outcome = (node) => ({ node, slot: 0, duration: 0 })
const CANCELLED = Object.freeze({ kind: "cancelled", excType: "", message: "withdrawn", traceback: "" })

/** Heap bytes per queued task: 1,000,000 queued, no nodes. `perTask`: a fresh spec + callbacks per task (what the bridge does). */
const memoryPerQueuedTask = (perTask) => {
  const scheduler = new Scheduler({ retries: 2, events: new EventHub() })
  const shared = { onDone: () => undefined, onFailed: () => undefined }
  const before = gcHeap()
  for (let i = 0; i < TASKS; i++) {
    if (perTask) {
      const state = { i, done: false }
      scheduler.submit({ kind: "pickle", payload: SPEC.payload }, {
        onDone: () => void (state.done = true),
        onFailed: () => void (state.done = true)
      })
    } else scheduler.submit(SPEC, shared)
  }
  const after = gcHeap()
  if (scheduler.queued !== TASKS) throw new Error(`queued ${scheduler.queued}`)
  const bytes = (after - before) / TASKS
  scheduler.close("done")
  return bytes
}

/**
 * Dispatch throughput: `tasks` submitted up front, then `nodes` fake nodes join; each fake node
 * answers every submit (queued to a completion list, answered in FIFO order, like frames coming
 * back) with `scheduler.completed`, which frees the slot and dispatches the next task; a task asked
 * back before its answer is answered `cancelled`, as an agent does for one it has not started.
 */
const throughput = ({ withListener, queuedFirst }) => {
  const events = new EventHub()
  if (withListener) events.subscribe(() => undefined)
  const scheduler = new Scheduler({ retries: 2, events })
  let doneCount = 0
  const callbacks = { onDone: () => void doneCount++, onFailed: () => { throw new Error("failed") } }
  // answers pending from the fake nodes: [node, id] pairs in a flat ring
  const answers = new Int32Array(2 * (NODES * SLOTS + 1) * 2)
  let head = 0
  let tail = 0
  const cap = answers.length
  let dispatches = 0
  const withdrawn = new Set()
  let givenBack = 0 // each goes back to the queue and is dispatched once more
  const answer = (node, id) => {
    if (withdrawn.delete(id)) {
      givenBack++
      scheduler.failed(node, id, CANCELLED)
    } else scheduler.completed(node, id, outcome(node))
  }
  const t0 = process.hrtime.bigint()
  if (queuedFirst) for (let i = 0; i < TASKS; i++) scheduler.submit(SPEC, callbacks)
  const tSubmitted = process.hrtime.bigint()
  for (let n = 0; n < NODES; n++) {
    scheduler.addNode({
      index: n,
      capacity: SLOTS,
      sendSubmit: (id) => {
        dispatches++
        answers[tail] = n
        answers[tail + 1] = id
        tail = (tail + 2) % cap
      },
      sendCancel: () => undefined,
      // like an agent asked for a task it has not started: it answers `cancelled` instead of a result
      sendWithdraw: (id) => void withdrawn.add(id)
    })
  }
  if (!queuedFirst) for (let i = 0; i < TASKS; i++) {
    scheduler.submit(SPEC, callbacks)
    // answer whatever is running so the stream keeps flowing (bounded queue: NODES*SLOTS in flight)
    while (scheduler.queued > NODES * SLOTS && head !== tail) {
      const node = answers[head], id = answers[head + 1]
      head = (head + 2) % cap
      answer(node, id)
    }
  }
  while (head !== tail) {
    const node = answers[head], id = answers[head + 1]
    head = (head + 2) % cap
    answer(node, id)
  }
  const t1 = process.hrtime.bigint()
  if (doneCount !== TASKS || dispatches !== TASKS + givenBack) throw new Error(`done ${doneCount} dispatched ${dispatches} (${givenBack} given back)`)
  const total = Number(t1 - t0) / 1e9
  const dispatchPhase = Number(t1 - tSubmitted) / 1e9
  return {
    seconds_total: total,
    seconds_dispatch_phase: dispatchPhase,
    dispatches_per_second: TASKS / (queuedFirst ? dispatchPhase : total),
    end_to_end_tasks_per_second: TASKS / total
  }
}

const result = {
  case: "B6",
  tasks: TASKS,
  nodes: NODES,
  slots_per_node: SLOTS,
  node: process.version
}
result.heap_bytes_per_queued_task = memoryPerQueuedTask(false)
result.heap_bytes_per_queued_task_with_caller_objects = memoryPerQueuedTask(true)
const queued = throughput({ withListener: false, queuedFirst: true })
const streamed = throughput({ withListener: false, queuedFirst: false })
const listened = throughput({ withListener: true, queuedFirst: true })
result.dispatches_per_second = queued.dispatches_per_second
result.queued_first = queued
result.streamed = streamed
result.with_event_listener = listened
process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`)
