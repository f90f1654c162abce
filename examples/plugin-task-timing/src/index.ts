/**
 * skyward-plugin-task-timing: an example third-party Skyward plugin.
 *
 * A worker `task` hook (Python, shipped in this package's `python/` folder) times every task;
 * when the pool closes, the plugin's `aroundClient` prints how long each node spent in tasks.
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * import { taskTiming } from "skyward-plugin-task-timing"
 * await ComputePool.use({ nodes: 2, plugins: [taskTiming()] }, (pool) => pool.map("math:sqrt", [1, 4, 9]))
 * // task-timing: 3 tasks on 2 nodes
 * // task-timing: node 0: 2 tasks, 0.000s in tasks (mean 0.000s, max 0.000s), slots 0,1
 * // ...
 * ```
 * From the command line, in a project that has it in its node_modules (`--plugin` looks there
 * first, from the current directory up, then next to the CLI):
 * `skyward run --plugin skyward-plugin-task-timing --plugin joblib script.py`; or by its folder:
 * `skyward run --plugin ./examples/plugin-task-timing --plugin joblib script.py`.
 * @packageDocumentation
 */
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { definePlugin, PluginError, withEnv, type Cluster } from "@skyward/core"
import { Effect } from "effect"

/** How long one node spent in tasks. */
export interface NodeTiming {
  readonly node: number
  readonly tasks: number
  /** Sum of the tasks' wall times, in seconds. */
  readonly seconds: number
  readonly mean: number
  readonly max: number
  /** The slots its tasks ran on. */
  readonly slots: ReadonlyArray<number>
}

/** Options of `taskTiming()`. */
export interface TaskTimingOptions {
  /** Where each line of the summary goes (default: stderr). */
  readonly print?: (line: string) => void
  /** Receives the summary as data when the pool closes. */
  readonly onSummary?: (summary: ReadonlyArray<NodeTiming>) => void
  /** The folder under which the per-pool records folder is made (default: the OS temp folder). */
  readonly dir?: string
}

/** The environment variable that tells the worker hook where to write. */
export const TIMING_DIR_ENV = "SKYWARD_TASK_TIMING_DIR"

/** This package's Python folder, holding `skyward_task_timing`. */
export const pythonDir: string = fileURLToPath(new URL("../python", import.meta.url))

const recordsDir = (base: string, clusterId: string) => path.join(base, `skyward-task-timing-${clusterId}`)

/** Reads the records the worker hook wrote: one `node \t slot \t seconds` line per task. */
export const readRecords = (dir: string): Array<{ node: number; slot: number; seconds: number }> =>
  (fs.existsSync(dir) ? fs.readdirSync(dir) : [])
    .filter((name) => name.endsWith(".tsv"))
    .flatMap((name) => fs.readFileSync(path.join(dir, name), "utf8").split("\n"))
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [node, slot, seconds] = line.split("\t").map(Number)
      return { node: node ?? 0, slot: slot ?? 0, seconds: seconds ?? 0 }
    })

/** Per-node totals, one entry per node of the cluster (nodes that ran nothing included). */
export const summarize = (records: ReadonlyArray<{ node: number; slot: number; seconds: number }>, cluster: Cluster): NodeTiming[] =>
  cluster.nodes.map(({ index }) => {
    const mine = records.filter((r) => r.node === index)
    const seconds = mine.reduce((sum, r) => sum + r.seconds, 0)
    return {
      node: index,
      tasks: mine.length,
      seconds,
      mean: mine.length ? seconds / mine.length : 0,
      max: mine.reduce((max, r) => Math.max(max, r.seconds), 0),
      slots: [...new Set(mine.map((r) => r.slot))].sort((a, b) => a - b)
    }
  })

/** The summary as printed lines. */
export const formatSummary = (summary: ReadonlyArray<NodeTiming>): string[] => [
  `task-timing: ${summary.reduce((n, s) => n + s.tasks, 0)} tasks on ${summary.length} nodes`,
  ...summary.map(
    (s) =>
      `task-timing: node ${s.node}: ${s.tasks} tasks, ${s.seconds.toFixed(3)}s in tasks (mean ${s.mean.toFixed(3)}s, max ${s.max.toFixed(3)}s), slots ${s.slots.join(",") || "-"}`
  )
]

/**
 * The plugin. Its hooks:
 * - `image`: sets `SKYWARD_TASK_TIMING_DIR` on the workers (one folder per pool, named by cluster id);
 * - `python`: ships `skyward_task_timing` and names its `timed` decorator as the `task` hook;
 * - `aroundClient`: makes the folder when the pool opens; when it closes, reads the records,
 *   prints the per-node summary and removes the folder.
 *
 * The records are files on the workers, so the summary sees the nodes that share this machine's
 * file system (the local provider); on remote nodes they stay on the node.
 */
export const taskTiming = (options: TaskTimingOptions = {}) => {
  const base = options.dir ?? os.tmpdir()
  const print = options.print ?? ((line: string) => void process.stderr.write(`${line}\n`))
  return definePlugin({
    name: "task-timing",
    requires: ">=0.1.0 <1.0.0",
    image: (image, cluster) => withEnv(image, { [TIMING_DIR_ENV]: recordsDir(base, cluster.id) }),
    python: {
      modules: [{ name: "skyward_task_timing", path: pythonDir }],
      task: "skyward_task_timing:timed"
    },
    aroundClient: (_pool, cluster) => {
      const dir = recordsDir(base, cluster.id)
      return Effect.acquireRelease(
        Effect.try({
          try: () => fs.mkdirSync(dir, { recursive: true, mode: 0o700 }),
          catch: (cause) => new PluginError({ plugin: "task-timing", message: `cannot create ${dir}: ${cause}`, cause })
        }),
        () =>
          Effect.sync(() => {
            try {
              const summary = summarize(readRecords(dir), cluster)
              options.onSummary?.(summary)
              formatSummary(summary).forEach((line) => print(line))
            } finally {
              fs.rmSync(dir, { recursive: true, force: true })
            }
          })
      ).pipe(Effect.asVoid)
    }
  })
}

/** The CLI (`--plugin skyward-plugin-task-timing`) calls the default export with no options. */
export default taskTiming
