/**
 * Shared helpers of the fault suite: running the built `skyward` command, reading its `--json`
 * events, and finding what a test left behind (processes, temporary files).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import type { PoolEvent } from "@skyward/contracts"
import { afterEach, expect } from "vitest"

export const here = path.dirname(fileURLToPath(import.meta.url))
export const repo = path.resolve(here, "../../..")
export const bin = path.join(repo, "apps/cli/dist/bin.js")
export const fixtures = path.join(here, "fixtures")
/** The project's venv: the loky baseline runs here. */
export const venvPython = path.join(repo, ".venv/bin/python")

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const waitFor = async <A>(what: string, check: () => A | undefined | false, ms: number, every = 50): Promise<A> => {
  const until = Date.now() + ms
  for (;;) {
    const value = check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(every)
  }
}

/** A private, empty folder for one test (under the worker's private TMPDIR). */
export const tempDir = (name: string): string => fs.mkdtempSync(path.join(process.env.SKYWARD_FAULTS_TMP ?? "/tmp", `${name}-`))

/** Entries of `dir` (recursively, relative paths); what a run left in its TMPDIR. */
export const entriesOf = (dir: string): string[] => {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()
}

// -- another user -------------------------------------------------------------------------------

/** The user cross-user tests run as: uid and gid 65534 (`nobody`), in no other group. */
export const OTHER_UID = 65534
const SETPRIV = "/usr/bin/setpriv"

/** Why nothing can be run as another user here, or undefined when `runAsOtherUser` can. */
export const otherUserUnavailable = (): string | undefined =>
  process.getuid?.() !== 0 ? "the tests do not run as root" : fs.existsSync(SETPRIV) ? undefined : `${SETPRIV} is missing (util-linux)`

/** True when `file` is the checkout or lies inside it (symlinks resolved). */
export const insideCheckout = (file: string): boolean => {
  const relative = path.relative(fs.realpathSync(repo), fs.realpathSync(file))
  return !relative.startsWith("..") && !path.isAbsolute(relative)
}

/**
 * What stops a user who is neither owner nor in the group (uid 65534) from using `file`: `file`
 * itself when it lacks the `need` bits for others (0o004 read, 0o001 execute), or the first folder
 * above it that others cannot pass through. Undefined when nothing does.
 */
export const closedToOthers = (file: string, need: number): string | undefined => {
  const real = fs.realpathSync(file)
  const mode = (p: string) => fs.statSync(p).mode & 0o777
  if ((mode(real) & need) !== need) return `${real} (mode 0${mode(real).toString(8)})`
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    if ((mode(dir) & 0o001) === 0) return `${dir} (mode 0${mode(dir).toString(8)})`
    if (dir === "/") return undefined
  }
}

/**
 * A folder under /tmp that other users can pass through but not list (0711), for what a test
 * shares with another user. The caller removes it. (The per-file TMPDIR is private: 0700.)
 */
export const sharedTempDir = (name: string): string => {
  const dir = fs.mkdtempSync(path.join("/tmp", `${name}-`))
  fs.chmodSync(dir, 0o711)
  return dir
}

/**
 * Runs the Node script `script` as uid 65534 (`setpriv`) from a copy in a fresh readable folder
 * under `parent` (removed afterwards, also on failure), with that folder as its working directory.
 * The script must print `START uid=<uid>` first; returns the lines it printed after that.
 *
 * Throws, as a broken test rather than an answer, when the copy or its working directory would be
 * inside the checkout, when a folder above the copy or Node is closed to other users, or when the
 * script did not start as uid 65534 or gave no answer (the message has its exit and stderr).
 */
export const runAsOtherUser = async (script: string, args: ReadonlyArray<string>, parent: string): Promise<string[]> => {
  const dir = fs.mkdtempSync(path.join(parent, "as-other-"))
  try {
    fs.chmodSync(dir, 0o755)
    const copy = path.join(dir, path.basename(script))
    fs.copyFileSync(script, copy)
    fs.chmodSync(copy, 0o644)
    // the checkout may live in a private folder (/root, mktemp -d): nothing handed over may be in it
    if (insideCheckout(dir)) throw new Error(`broken test: ${dir}, handed to uid ${OTHER_UID}, is inside the checkout ${repo}`)
    const closed = closedToOthers(copy, 0o004) ?? closedToOthers(process.execPath, 0o001)
    if (closed !== undefined) throw new Error(`broken test: uid ${OTHER_UID} cannot reach what it must run: ${closed} is closed to other users`)
    const argv = [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, "--clear-groups", process.execPath, copy, ...args]
    // a clean environment: NODE_OPTIONS and the like may name files inside the checkout
    const { code, stdout, stderr } = await new Promise<{ code: string | number; stdout: string; stderr: string }>((resolve) =>
      execFile(SETPRIV, argv, { cwd: dir, env: { PATH: "/usr/bin:/bin" }, timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.signal ?? error.code ?? "?"), stdout, stderr })
      )
    )
    const [first, ...answer] = stdout.split("\n").filter((line) => line !== "")
    if (first !== `START uid=${OTHER_UID}` || answer.length === 0)
      throw new Error(`broken test: ${path.basename(script)} as uid ${OTHER_UID} gave no answer (exit ${code}); stdout: ${JSON.stringify(stdout)}; stderr: ${stderr.trim() || "(empty)"}`)
    return answer
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// -- processes ----------------------------------------------------------------------------------

const readProc = (pid: number, file: string): string | undefined => {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "latin1")
  } catch {
    return undefined
  }
}

const isZombie = (pid: number): boolean => /^State:\s+Z/m.test(readProc(pid, "status") ?? "State: Z")

export const pids = (): number[] =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)

/** Live (non-zombie) processes whose initial environment contains `marker`. */
export const processesMarked = (marker: string): number[] =>
  pids().filter((pid) => pid !== process.pid && (readProc(pid, "environ") ?? "").includes(marker) && !isZombie(pid))

export const describeProcess = (pid: number): string => `${pid} ${(readProc(pid, "cmdline") ?? "?").replace(/\0/g, " ").trim()}`

const parentOf = (pid: number): number | undefined => {
  const stat = readProc(pid, "stat")
  if (stat === undefined) return undefined
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
}

/** Live descendants of this process (pool agents, slot processes, pip, ...). */
export const descendants = (root = process.pid): number[] =>
  pids().filter((pid) => {
    for (let p = parentOf(pid), hops = 0; p !== undefined && p > 1 && hops < 64; p = parentOf(p), hops++)
      if (p === root) return !isZombie(pid)
    return false
  })

export const alive = (pid: number): boolean => fs.existsSync(`/proc/${pid}`) && !isZombie(pid)

export const killAll = (list: ReadonlyArray<number>, signal: NodeJS.Signals = "SIGKILL") => {
  for (const pid of list) {
    try {
      process.kill(pid, signal)
    } catch {
      // gone
    }
  }
}

/** Waits until `list()` is empty; returns what is left (described) after `ms`. */
export const settle = async (list: () => number[], ms = 5_000): Promise<string[]> => {
  const until = Date.now() + ms
  for (;;) {
    const left = list()
    if (left.length === 0) return []
    if (Date.now() > until) return left.map(describeProcess)
    await sleep(50)
  }
}

// -- the skyward command -------------------------------------------------------------------------

/** A `skyward` process started by a test; everything it starts carries `marker` in its environment. */
export interface CliRun {
  readonly child: ChildProcess
  readonly marker: string
  readonly tmp: string
  stdout: string
  stderr: string
  readonly events: PoolEvent[]
  /** Pool events with the time (ms) they were read. */
  readonly timed: Array<{ readonly at: number; readonly event: PoolEvent }>
  readonly startedAt: number
  /** Started in its own process group, as in a terminal (see `interrupt`). */
  readonly terminal: boolean
  /** Resolves with the exit code (null: killed by a signal) once the process closed. */
  readonly exited: Promise<number | null>
  /** Resolves with the first event that matches. */
  readonly when: <E extends PoolEvent>(match: (event: PoolEvent) => event is E, ms?: number) => Promise<E>
  readonly whenOutput: (text: string, ms?: number) => Promise<void>
  /** Kills it and every marked process (test clean-up, also after a failure). */
  readonly kill: () => void
}

const live = new Set<CliRun>()
process.on("exit", () => {
  for (const run of live) run.kill()
})

/**
 * Starts `node apps/cli/dist/bin.js <args>` with its own TMPDIR and a marker in its environment
 * (inherited by the agents, slot processes, pip and the client script).
 */
export const startCli = (
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string; readonly terminal?: boolean } = {}
): CliRun => {
  const marker = `SKYWARD_FAULT_MARK=${randomUUID()}`
  const tmp = tempDir("cli")
  const [key, value] = marker.split("=") as [string, string]
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? repo,
    env: { ...process.env, TMPDIR: tmp, ...options.env, [key]: value },
    stdio: ["ignore", "pipe", "pipe"],
    // as in a terminal: its own process group, which Ctrl-C signals as a whole (see `interrupt`)
    detached: options.terminal === true
  })
  const waiters: Array<() => void> = []
  let partial = ""
  const run: CliRun = {
    child,
    marker,
    tmp,
    stdout: "",
    stderr: "",
    events: [],
    timed: [],
    startedAt: Date.now(),
    terminal: options.terminal === true,
    exited: new Promise((resolve) => child.on("close", (code) => resolve(code))),
    when: (match, ms = 60_000) => waitFor("a pool event", () => run.events.find(match), ms, 20) as never,
    whenOutput: (text, ms = 60_000) => waitFor(`output ${JSON.stringify(text)}`, () => run.stdout.includes(text) || run.stderr.includes(text), ms, 20).then(() => undefined),
    kill: () => {
      child.kill("SIGKILL")
      killAll(processesMarked(marker))
      live.delete(run)
    }
  }
  live.add(run)
  child.stdout!.on("data", (chunk: Buffer) => {
    run.stdout += chunk.toString()
    waiters.splice(0).forEach((w) => w())
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    const text = chunk.toString()
    run.stderr += text
    partial += text
    const lines = partial.split("\n")
    partial = lines.pop()!
    for (const line of lines) {
      if (!line.startsWith("{")) continue
      try {
        const event = JSON.parse(line) as PoolEvent
        run.events.push(event)
        run.timed.push({ at: Date.now(), event })
      } catch {
        // a script's own stderr line that looks like JSON
      }
    }
  })
  void run.exited.then(() => live.delete(run))
  return run
}

/** Runs `skyward <args>` to the end (killed after `timeoutMs`). */
export const runCli = async (
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number; readonly cwd?: string } = {}
): Promise<CliRun & { readonly code: number | null; readonly seconds: number }> => {
  const run = startCli(args, options)
  const timer = setTimeout(() => run.kill(), options.timeoutMs ?? 120_000)
  const code = await run.exited
  clearTimeout(timer)
  return Object.assign(run, { code, seconds: (Date.now() - run.startedAt) / 1000 })
}

/** The lines of `skyward: ...` the command printed on stderr. */
export const skywardLines = (stderr: string): string[] => stderr.split("\n").filter((l) => l.startsWith("skyward:"))

/** `result:` lines a fixture script printed. */
export const resultLines = (stdout: string): string[] => stdout.split("\n").filter((l) => l.startsWith("result:"))

export const isTag =
  <T extends PoolEvent["_tag"]>(tag: T) =>
  (event: PoolEvent): event is Extract<PoolEvent, { _tag: T }> =>
    event._tag === tag

/**
 * Checks a run that lost node `node` once, out of `total` tasks: each task it held ran again on
 * another node, exactly once, and nothing failed. Returns the lost event and the retries.
 */
export const expectLostTasksRanElsewhere = (run: CliRun, node: number, total: number) => {
  const lost = run.events.filter(isTag("NodeLost"))
  expect(lost.map((e) => e.node)).toEqual([node])
  const retried = run.events.filter(isTag("TaskRetried"))
  expect(retried.map((e) => e.task).sort()).toEqual([...lost[0]!.inFlight].sort())
  expect(retried.every((e) => e.fromNode === node && e.attempt === 2)).toBe(true)
  const done = run.events.filter(isTag("TaskDone"))
  expect(done).toHaveLength(total)
  expect(new Set(done.map((e) => e.task)).size).toBe(total)
  for (const task of lost[0]!.inFlight) expect(done.find((e) => e.task === task)!.node).not.toBe(node)
  expect(run.events.filter(isTag("TaskFailed"))).toEqual([])
  return { lost: lost[0]!, lostAt: run.timed.find((t) => t.event._tag === "NodeLost")!.at, retried }
}

/**
 * Reports a joblib run through which node 1 of 3 was lost (`fault`, found `since` the fault was
 * made): its tasks ran again elsewhere (checked), its output is loky's (checked by the caller).
 */
export const reportLostNode = (run: CliRun, fault: string, since: number, left: string[]) => {
  const { lost, lostAt, retried } = expectLostTasksRanElsewhere(run, 1, 90)
  report({
    fault,
    happened: `NodeLost node 1 (${lost.reason}); joblib output = loky's`,
    detectSeconds: (lostAt - since) / 1000,
    retried: `${retried.length} (tasks ${retried.map((e) => e.task).join(", ")}), each done once on another node`,
    correct: true,
    left
  })
  return lost
}

/** What a finished CLI run left behind: marked processes and files in its TMPDIR. */
export const leftoversOf = async (run: CliRun, ms = 5_000): Promise<string[]> => [
  ...(await settle(() => processesMarked(run.marker), ms)).map((p) => `process ${p}`),
  ...entriesOf(run.tmp).map((f) => `file ${path.join(run.tmp, f)}`)
]

/**
 * Presses Ctrl-C: SIGINT to the run (to its whole process group, as a terminal does, when it was
 * started with `terminal: true`), then waits for it to exit. Returns the exit code, the seconds from
 * the signal to the exit, how many marked processes were alive just before the signal, and what the
 * run wrote on stderr after it.
 */
export const interrupt = async (
  run: CliRun
): Promise<{ readonly code: number | null; readonly seconds: number; readonly before: number; readonly stderrAfter: string }> => {
  const before = processesMarked(run.marker).length
  const at = Date.now()
  const stderrBefore = run.stderr.length
  if (run.terminal) process.kill(-run.child.pid!, "SIGINT")
  else run.child.kill("SIGINT")
  const code = await run.exited
  return { code, seconds: (Date.now() - at) / 1000, before, stderrAfter: run.stderr.slice(stderrBefore) }
}

/** One row of the closing table (printed by the suite; collected into the report). */
export const report = (row: {
  fault: string
  happened: string
  detectSeconds?: number | string
  retried?: number | string
  correct: boolean | string
  left: string[] | string
}): void => {
  const left = typeof row.left === "string" ? row.left : row.left.length === 0 ? "none" : row.left.join("; ")
  const detect = row.detectSeconds === undefined ? "-" : typeof row.detectSeconds === "number" ? `${row.detectSeconds.toFixed(2)} s` : row.detectSeconds
  const line = `| ${row.fault} | ${row.happened} | ${detect} | ${row.retried ?? "-"} | ${row.correct === true ? "yes" : row.correct === false ? "no" : row.correct} | ${left} |`
  const file = process.env.SKYWARD_FAULTS_REPORT
  if (file) fs.appendFileSync(file, line + "\n")
  console.info(`FAULT ${line}`)
}

/**
 * The `skyward run`s a test file starts: each is killed after its test, and every test must leave
 * no process of ours and no `skyward-*` folder in this file's TMPDIR.
 */
export const trackRuns = (): CliRun[] => {
  const runs: CliRun[] = []
  afterEach(async () => {
    for (const run of runs.splice(0)) run.kill()
    expect(await settle(() => descendants(), 8_000)).toEqual([])
    expect(entriesOf(process.env.TMPDIR!).filter((e) => e.startsWith("skyward-"))).toEqual([])
  })
  return runs
}

/** A fixture's `case NAME: OUTCOME` lines, by name. */
export const cases = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout
      .split("\n")
      .filter((l) => l.startsWith("case "))
      .map((l) => [l.slice(5, l.indexOf(":")), l.slice(l.indexOf(":") + 2)])
  )
