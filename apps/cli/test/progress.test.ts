import { Writable } from "node:stream"
import type { PoolEvent } from "@skyward/contracts"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { interruptedLine, interruption } from "../src/internal/interruption.js"
import { makeProgress, type ProgressMode } from "../src/internal/progress.js"

/** A stream that keeps what is written to it; a terminal of 100 columns when `tty`. */
const fakeStream = (tty: boolean) => {
  const chunks: string[] = []
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk))
        done()
      }
    }),
    { isTTY: tty, columns: 100 }
  )
  return { stream, text: () => chunks.join("") }
}

// cursor movement, line clearing, colours, cursor save/restore: what a terminal would not show as text
const CONTROL = new RegExp(String.raw`\u001b(\[[0-9;?]*[A-Za-z]|[78])`, "g")

const nodeUp = (node: number): PoolEvent[] => [
  { _tag: "NodeProvisioned", node, address: "localhost" },
  { _tag: "NodeBootstrapping", node, line: "creating virtual environment" },
  { _tag: "NodeBootstrapping", node, line: "pip install joblib" },
  { _tag: "NodeBootstrapped", node, cached: false, seconds: 12.34 },
  { _tag: "NodeReady", node, slots: 2, pid: 1000 + node }
]
const queued = (task: number, calls?: number): PoolEvent => ({ _tag: "TaskQueued", task, ...(calls === undefined ? {} : { calls }) })
const done = (task: number): PoolEvent => ({ _tag: "TaskDone", task, node: task % 2, seconds: 0.5 })
const failed = (task: number): PoolEvent => ({ _tag: "TaskFailed", task, node: 0, error: "ValueError: bad input" })

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-01-01T00:00:00Z") })
})
afterEach(() => {
  vi.useRealTimers()
})

describe("progress on stderr that is not a terminal: plain lines", () => {
  it("shows each node coming up, then tasks done of queued with rate and ETA, every 2 s while they change, and at the end", () => {
    const { stream, text } = fakeStream(false)
    const progress = makeProgress("auto", stream)
    const emit = (...events: PoolEvent[]) => events.forEach((event) => progress.listener!(event))

    emit(...nodeUp(0), ...nodeUp(1))
    emit(...Array.from({ length: 10 }, (_, i) => queued(i)))
    vi.advanceTimersByTime(1_500)
    emit(done(0), done(1), done(2), done(3))
    vi.advanceTimersByTime(500) // 2 s after the tasks were queued and none since while 4 finished: 2/s, 6 left
    vi.advanceTimersByTime(2_000) // nothing changed: no line
    emit(...[4, 5, 6, 7, 8].map(done), failed(9))
    progress.stop() // 4 s: 9 done, 2.25/s

    expect(text().split("\n").filter(Boolean)).toEqual([
      "skyward: node 0: provisioned (localhost)",
      "skyward: node 0: bootstrapping (creating virtual environment)",
      "skyward: node 0: bootstrapped in 12.3s",
      "skyward: node 0: ready (2 slots)",
      "skyward: node 1: provisioned (localhost)",
      "skyward: node 1: bootstrapping (creating virtual environment)",
      "skyward: node 1: bootstrapped in 12.3s",
      "skyward: node 1: ready (2 slots)",
      "skyward: tasks: 4 done of 10 (2.0/s, eta 3s)",
      "skyward: tasks: 9 done, 1 failed of 10 (2.3/s)"
    ])
    expect(text()).not.toMatch(CONTROL)
  })

  it("says when a node is lost and prints no task line before a task was queued", () => {
    const { stream, text } = fakeStream(false)
    const progress = makeProgress("auto", stream)
    progress.listener!({ _tag: "NodeLost", node: 1, reason: "the agent exited", inFlight: [3, 4] })
    vi.advanceTimersByTime(4_000)
    progress.stop()
    expect(text()).toBe("skyward: node 1: LOST (the agent exited); 2 task(s) re-queued\n")
  })
})

describe("what the task line counts, and when it shows an ETA", () => {
  const plainLines = (run: (emit: (...events: PoolEvent[]) => void) => void, stop = true) => {
    const { stream, text } = fakeStream(false)
    const progress = makeProgress("auto", stream)
    run((...events) => events.forEach((event) => progress.listener!(event)))
    if (stop) progress.stop()
    return text().split("\n").filter(Boolean)
  }

  it("no ETA and \"queued so far\" while the script keeps queueing as tasks finish (joblib refilling its queue)", () => {
    const lines = plainLines((emit) => {
      emit(...Array.from({ length: 8 }, (_, i) => queued(i)))
      // each finished task is replaced at once by the next: the queue grows, the total is unknown
      for (let i = 0; i < 16; i++) {
        vi.advanceTimersByTime(250)
        emit(done(i), queued(8 + i))
      }
    }, false)
    // every 2 s (the timer runs before the events of that instant)
    expect(lines).toEqual(["skyward: tasks: 7 done of 15 queued so far (3.5/s)", "skyward: tasks: 15 done of 23 queued so far (3.8/s)"])
  })

  it("the ETA once nothing more was queued for a second while tasks finished, and at the end", () => {
    const lines = plainLines((emit) => {
      emit(...Array.from({ length: 4 }, (_, i) => queued(i)))
      vi.advanceTimersByTime(500)
      emit(done(0))
      vi.advanceTimersByTime(400) // 0.9 s since the last was queued: not yet
      emit(queued(4))
      vi.advanceTimersByTime(1_100) // 2 s: queued 1.1 s ago, one finished before: still growing, as far as we know
      emit(done(1))
      vi.advanceTimersByTime(2_000) // 4 s: nothing queued for 3 s while one finished: the total is 5
      emit(done(2))
    })
    expect(lines).toEqual([
      "skyward: tasks: 1 done of 5 queued so far (0.5/s)",
      "skyward: tasks: 2 done of 5 (0.5/s, eta 6s)",
      "skyward: tasks: 3 done of 5 (0.8/s, eta 3s)"
    ])
  })

  it("counts the script's calls, not joblib's batches, when the client says how many a pool task runs", () => {
    const lines = plainLines((emit) => {
      emit(queued(0, 4), queued(1, 4), queued(2))
      vi.advanceTimersByTime(2_000)
      emit(done(0), failed(2))
    })
    expect(lines).toEqual(["skyward: tasks: 0 done of 9 queued so far (0.0/s)", "skyward: tasks: 4 done, 1 failed of 9 (2.0/s, eta 2s)"])
  })

  it("a node of one slot is \"1 slot\"", () => {
    const lines = plainLines((emit) => emit({ _tag: "NodeReady", node: 0, slots: 1, pid: 1 }))
    expect(lines).toEqual(["skyward: node 0: ready (1 slot)"])
  })
})

describe("Ctrl-C", () => {
  afterEach(() => {
    interruption.signal = undefined
    interruption.nodes.clear()
  })

  it("once interrupted, what the shutdown does (nodes lost, tasks failed) is not printed, nor the final count", () => {
    for (const tty of [false, true]) {
      const { stream, text } = fakeStream(tty)
      const progress = makeProgress("auto", stream)
      const emit = (...events: PoolEvent[]) => events.forEach((event) => progress.listener!(event))
      emit(...nodeUp(0), ...nodeUp(1), queued(0), queued(1))
      const before = text()
      interruption.signal = "SIGINT"
      emit({ _tag: "NodeLost", node: 0, reason: "the agent exited", inFlight: [0] }, failed(0), failed(1))
      vi.advanceTimersByTime(4_000)
      progress.stop()
      expect(text().slice(before.length).replace(CONTROL, "").trim()).toBe("")
    }
  })

  it("tasks the script cancelled (Ctrl-C reaching it before skyward's own handler ran, or an aborted call) are not shown as failed", () => {
    const { stream, text } = fakeStream(true)
    const progress = makeProgress("auto", stream)
    const emit = (...events: PoolEvent[]) => events.forEach((event) => progress.listener!(event))
    emit(queued(0), queued(1), queued(2))
    vi.advanceTimersByTime(100)
    const before = text()
    emit(...[0, 1, 2].map((task): PoolEvent => ({ _tag: "TaskFailed", task, error: "cancelled by the caller", cancelled: true })))
    progress.stop()
    expect(text().slice(before.length).replace(CONTROL, "")).not.toMatch(/failed|cancel/)
  })

  it("the one line says what was stopped: the nodes the pool made, with their slots once all were ready", () => {
    const { stream } = fakeStream(false)
    const progress = makeProgress("quiet", stream)
    ;[...nodeUp(0), ...nodeUp(1)].forEach((event) => progress.listener!(event))
    expect(interruptedLine()).toBe("interrupted; stopped 2 nodes (4 task slots), removed their temporary folders")
    expect(interruptedLine(new Map([[0, 1]]))).toBe("interrupted; stopped 1 node (1 task slot), removed their temporary folders")
    expect(interruptedLine(new Map([[0, 2], [1, undefined]]))).toBe("interrupted; stopped 2 nodes, removed their temporary folders")
    expect(interruptedLine(new Map())).toBe("interrupted")
    expect(interruptedLine(new Map([[0, 2]]), "the instance could not be terminated")).toBe("interrupted; while stopping: the instance could not be terminated")
  })
})

describe("progress on a terminal: a bar (cli-progress)", () => {
  it("draws tasks done of queued as a bar with rate and ETA, node lines above it, and ends on a new line", () => {
    const { stream, text } = fakeStream(true)
    const progress = makeProgress("auto", stream)
    const emit = (...events: PoolEvent[]) => events.forEach((event) => progress.listener!(event))

    emit(...nodeUp(0))
    emit(queued(0), queued(1), queued(2), queued(3))
    vi.advanceTimersByTime(1_000)
    emit(done(0), done(1))
    vi.advanceTimersByTime(1_000)
    const halfway = text().replace(CONTROL, "")
    // rate and ETA as of the last task event (1 s after the tasks were queued, none since: 2 done, 2/s, 2 left)
    expect(halfway).toContain("tasks [██████████░░░░░░░░░░] 2 done / 4 | 2.0/s | eta 1s")
    // while tasks are being queued: no ETA
    expect(halfway).toMatch(/tasks \[░{20}\] 0 done \/ 4 queued so far \| 0\.0\/s(?! \| eta)/)
    emit({ _tag: "NodeLost", node: 0, reason: "no heartbeat for 15s", inFlight: [2] })
    emit(done(2), failed(3))
    progress.stop()

    const shown = text().replace(CONTROL, "")
    expect(shown.startsWith("skyward: node 0: provisioned (localhost)\nskyward: node 0: bootstrapped in 12.3s\nskyward: node 0: ready (2 slots)\n")).toBe(true)
    // the bar stops for the node's line and comes back below it
    expect(shown).toMatch(/\| eta 1s\nskyward: node 0: LOST \(no heartbeat for 15s\); 1 task\(s\) re-queued\n/)
    expect(shown).toMatch(/tasks \[████████████████████\] 3 done, 1 failed \/ 4 \| 1\.5\/s\n$/)
    // the terminal was driven: the cursor hidden while the bar ran, and shown again
    expect(text()).toContain("\u001b[?25l")
    expect(text().lastIndexOf("\u001b[?25h")).toBeGreaterThan(text().lastIndexOf("\u001b[?25l"))
  })
})

describe("other modes", () => {
  it("--json: every event as one JSON line", () => {
    const { stream, text } = fakeStream(true)
    const progress = makeProgress("json", stream)
    const events = [...nodeUp(0), queued(0), done(0)]
    events.forEach((event) => progress.listener!(event))
    progress.stop()
    expect(text().trimEnd().split("\n").map((line) => JSON.parse(line) as unknown)).toEqual(events)
  })

  it("--quiet: nothing of nodes or tasks, only how the workers differ from the client", () => {
    const { stream, text } = fakeStream(true)
    const progress = makeProgress("quiet", stream)
    progress.listener?.({ _tag: "NodeProvisioned", node: 0, address: "localhost" })
    progress.listener?.({ _tag: "TaskQueued", task: 1 })
    progress.line("building the wheel of x")
    progress.listener?.({ _tag: "EnvironmentNote", node: 1, message: "Python 3.11.2, the client runs 3.11.7" })
    progress.note("pandas 2.2.3: no wheel")
    progress.stop()
    expect(text()).toBe("skyward: note: node 1: Python 3.11.2, the client runs 3.11.7\nskyward: note: pandas 2.2.3: no wheel\n")
  })
})

const stats = (node: number, cpu: number): PoolEvent => ({ _tag: "NodeStats", node, cpu, memUsed: 1 << 30, memTotal: 1 << 32 })

describe("NodeStats (each heartbeat of each node) is not progress", () => {
  it("--json: left out of the JSON lines", () => {
    const { stream, text } = fakeStream(false)
    const progress = makeProgress("json", stream)
    const ready: PoolEvent = { _tag: "NodeReady", node: 0, slots: 2, pid: 1000 }
    for (const event of [ready, stats(0, 0.5), stats(0, 0.25)]) progress.listener!(event)
    progress.stop()
    expect(text().trimEnd().split("\n").map((line) => JSON.parse(line) as unknown)).toEqual([ready])
  })

  for (const [mode, tty] of [["auto", false], ["auto", true], ["quiet", false]] as const satisfies ReadonlyArray<readonly [ProgressMode, boolean]>)
    it(`${mode}${tty ? " (terminal)" : ""}: says nothing of it`, () => {
      const { stream, text } = fakeStream(tty)
      const progress = makeProgress(mode, stream)
      for (let i = 0; i < 10; i++) progress.listener?.(stats(i % 2, i / 10))
      progress.stop()
      expect(text()).toBe("")
    })
})

describe("what a run cost", () => {
  it("is one line, also when quiet; with --json a RunCost object", () => {
    for (const mode of ["auto", "quiet"] as const) {
      const { stream, text } = fakeStream(false)
      const progress = makeProgress(mode, stream)
      progress.cost("cost: about $0.0120 ($0.1700/hour for 4.2 min; on-demand price list of 2026-11-30), $0.0001 per task (160 tasks)", { usd: 0.012 })
      progress.stop()
      expect(text(), mode).toContain("skyward: cost: about $0.0120 ($0.1700/hour for 4.2 min; on-demand price list of 2026-11-30), $0.0001 per task (160 tasks)\n")
    }
    const { stream, text } = fakeStream(false)
    const progress = makeProgress("json", stream)
    progress.cost("ignored", { usd: 0.012, tasks: 160 })
    expect(JSON.parse(text())).toEqual({ _tag: "RunCost", usd: 0.012, tasks: 160 })
  })
})
