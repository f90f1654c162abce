import fs from "node:fs"
import { CostMeter, nodesPrice, type PoolEvent } from "@skyward/contracts"
import { Effect } from "effect"
import type { ProjectPool } from "../open-pool.js"
import { formatDuration } from "./duration.js"
import { formatUsd } from "./cost.js"
import { writeRecord, writeStatus, type PoolConnection, type PoolRecord, type PoolStatus } from "./state.js"

/** How a pool that stays up is kept (`skyward up --foreground`). */
export interface ServeSettings {
  readonly name: string
  /** Close after this long without use; undefined: never. */
  readonly idleMs: number | undefined
  /** Print the connection as one JSON line (for programs: the Python API) instead of the text for people. */
  readonly json: boolean
  /** Started by `skyward up` in the background: it says that the pool is up, not this process. */
  readonly background: boolean
  /** When opening began (ISO time): machines cost from their launch, before the pool is ready. */
  readonly openedAt: string
  /** The URL of the pool's dashboard, token included. */
  readonly dashboard: string
}

/** How often the status file is rewritten and the idle time checked. */
const TICK_MS = 1_000

/** What the pool's tasks and clients are doing, from its events and its bridge. */
class UseTracker {
  private readonly running = new Set<number>()
  private readonly queued = new Set<number>()
  private clients = 0
  lastUsed = Date.now()

  readonly listener = (event: PoolEvent): void => {
    switch (event._tag) {
      case "TaskQueued":
        this.queued.add(event.task)
        this.lastUsed = Date.now()
        return
      case "TaskStarted":
        this.queued.delete(event.task)
        this.running.add(event.task)
        return
      case "TaskRetried":
        this.running.delete(event.task)
        this.queued.add(event.task)
        return
      case "TaskDone":
      case "TaskFailed":
        this.queued.delete(event.task)
        this.running.delete(event.task)
        this.lastUsed = Date.now()
        return
      case "NodeLost":
        for (const task of event.inFlight) this.running.delete(task)
        return
    }
  }

  /** The status now; a client that attached since the last look counts as use. */
  status(totalSlots: number, clients: number): PoolStatus {
    if (clients > this.clients) this.lastUsed = Date.now()
    this.clients = clients
    return { totalSlots, busySlots: this.running.size, queued: this.queued.size, clients, lastUsed: new Date(this.lastUsed).toISOString() }
  }

  idleFor(now: number): number {
    return this.running.size > 0 || this.queued.size > 0 ? 0 : now - this.lastUsed
  }
}

/** Whether standard input is a pipe (or socket) whose end should close the pool: a parent process holding it. */
const stdinIsPipe = (): boolean => {
  try {
    const stat = fs.fstatSync(0)
    return stat.isFIFO() || stat.isSocket()
  } catch {
    return false
  }
}

/** What `skyward up` prints once the pool is up. */
export const readyText = (record: PoolRecord): string => {
  const { name, nodes, provider, idleMs } = record
  const slots = record.connection.totalSlots
  const closes = idleMs === undefined ? "it stays up until skyward down" : `it closes after ${formatDuration(idleMs)} without use`
  const price = record.price === undefined ? "" : `, ${formatUsd(record.price.usdPerHour)}/hour`
  return [
    `pool ${name} is up: ${nodes} node${nodes === 1 ? "" : "s"}, ${slots} slot${slots === 1 ? "" : "s"} (${provider}${price}); ${closes}`,
    `  a script on it:      skyward run --pool ${name} script.py`,
    `  Python or Jupyter:   from skyward_joblib import connect; connect("${name}")`,
    `  close it:            skyward down ${name}`,
    `  its dashboard:       ${record.dashboard}`
  ].join("\n")
}

/**
 * Keeps an open pool up under its name: writes its record (how clients reach it) and, every
 * second, its status (busy slots, clients, last use); says it is up; then waits until it is not
 * used for `idleMs`, or its standard input (a pipe: the process that started it) ends. A signal
 * (`skyward down`, Ctrl-C) interrupts the wait. The caller's scope closes the pool.
 */
export const servePool = (opened: ProjectPool, settings: ServeSettings, say: (line: string) => void) =>
  Effect.gen(function* () {
    const { pool } = opened
    const tracker = new UseTracker()
    yield* Effect.acquireRelease(
      Effect.sync(() => pool.subscribe(tracker.listener)),
      (unsubscribe) => Effect.sync(unsubscribe)
    )
    const connection: PoolConnection = {
      name: settings.name,
      totalSlots: pool.totalSlots,
      env: { ...pool.image.env, ...pool.client.env },
      pythonPath: pool.client.pythonPath,
      imports: pool.client.imports
    }
    const price = nodesPrice(pool.cluster.nodes)
    const record: PoolRecord = {
      name: settings.name,
      pid: process.pid,
      provider: pool.cluster.provider,
      nodes: pool.cluster.nodes.length,
      created: new Date().toISOString(),
      idleMs: settings.idleMs,
      workdir: pool.workdir?.root,
      python: opened.python,
      clientPath: opened.project.mirror?.clientPath ?? [],
      instanceTypes: [...new Set(pool.cluster.nodes.map((n) => n.data.instanceType).filter((t): t is string => typeof t === "string"))],
      ...(price === undefined ? {} : { price: { ...price, since: settings.openedAt } }),
      dashboard: settings.dashboard,
      connection
    }
    writeRecord(record)
    // an elastic pool's price follows its nodes: the status says it, with the cost at each change
    const meter = price === undefined ? undefined : new CostMeter(Date.parse(settings.openedAt), price.usdPerHour)
    let cost: PoolStatus["cost"] = undefined
    const costNow = (): Pick<PoolStatus, "cost"> => {
      if (meter === undefined) return {}
      const usdPerHour = nodesPrice(pool.cluster.nodes)?.usdPerHour ?? null
      if (cost === undefined || usdPerHour !== cost.usdPerHour) {
        const now = Date.now()
        meter.price(now, usdPerHour ?? undefined)
        cost = { usdPerHour, usd: meter.total(now), at: new Date(now).toISOString() }
      }
      return { cost }
    }
    if (settings.json) process.stdout.write(`${JSON.stringify(connection)}\n`)
    else if (!settings.background) process.stdout.write(`${readyText(record)}\n`)
    const why = yield* Effect.async<string>((resume) => {
      let last = ""
      const watchStdin = stdinIsPipe()
      // the canceler runs on interruption only: a reason found here stops the watching itself
      const stop = () => {
        clearInterval(tick)
        if (watchStdin) {
          process.stdin.off("end", ended).off("close", ended).off("error", ended)
          process.stdin.destroy()
        }
      }
      const finish = (reason: string) => {
        stop()
        resume(Effect.succeed(reason))
      }
      const ended = () => finish("its standard input closed")
      const tick = setInterval(() => {
        const status = { ...tracker.status(pool.totalSlots, pool.client.attached()), nodes: pool.cluster.nodes.length, traffic: pool.traffic, ...costNow() }
        const text = JSON.stringify(status)
        if (text !== last) writeStatus(settings.name, status)
        last = text
        if (settings.idleMs !== undefined && tracker.idleFor(Date.now()) >= settings.idleMs) finish(`not used for ${formatDuration(settings.idleMs)}`)
      }, TICK_MS)
      if (watchStdin) {
        process.stdin.on("end", ended).on("close", ended).on("error", ended)
        process.stdin.resume()
      }
      return Effect.sync(stop)
    })
    say(`closing pool ${settings.name}: ${why}`)
  })
