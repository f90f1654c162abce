// Bad Python input to a joblib call under `skyward run`: unpicklable functions, arguments and
// results, an exception class that cannot be rebuilt, a 1 GiB argument. Each is a clear error in
// the caller, and the bridge keeps serving the next call.
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { fixtures, isTag, leftoversOf, report, runCli, type CliRun, cases } from "./support.js"

const script = path.join(fixtures, "python_input.py")
let runs: CliRun[] = []
afterEach(() => {
  for (const run of runs) run.kill()
  runs = []
})

describe("Python input that cannot travel", () => {
  it("an unpicklable argument or function is named in the error, before anything is dispatched", async () => {
    const run = await runCli(["run", "--json", "--nodes", "1", "--concurrency", "2", "--plugin", "joblib", script, "unpicklable"])
    runs.push(run)
    expect(run.code, run.stderr.slice(-2000)).toBe(0)
    const got = cases(run.stdout)
    expect(got["unpicklable-argument"]).toMatch(/^TaskPicklingError: could not pickle argument 0 \(_thread\.lock\) of the call to id\(\) to send it to the workers: TypeError\("cannot pickle '_thread\.lock' object"\)/)
    expect(got["unpicklable-function"]).toMatch(/^TaskPicklingError: could not pickle the function .*<lambda>\(\) to send it/)
    // only the two `alive` calls (4 tasks each) reached the pool
    expect(run.events.filter(isTag("TaskQueued"))).toHaveLength(8)
    expect(run.stdout.match(/^alive: \[0, 1, 4, 9\]$/gm)).toHaveLength(2)
    const left = await leftoversOf(run)
    report({ fault: "unpicklable argument / function (joblib)", happened: got["unpicklable-argument"]!.slice(0, 110) + "…; nothing dispatched", detectSeconds: "< 0.1 s", retried: 0, correct: "yes (clear error)", left })
    expect(left).toEqual([])
  })

  it("an unpicklable result, an exception that cannot be rebuilt, a 1 GiB argument, a 300 MB result", async () => {
    const run = await runCli(["run", "--json", "--nodes", "1", "--concurrency", "2", "--plugin", "joblib", script, "others"])
    runs.push(run)
    expect(run.code, run.stderr.slice(-2000)).toBe(0)
    const got = cases(run.stdout)
    expect(got["unpicklable-result"]).toMatch(/^TaskPicklingError: builtins\.TypeError: could not pickle the result of type builtins\.list: cannot pickle '_thread\.lock' object/)
    expect(got["exception-not-rebuildable"]).toMatch(/^RemoteTaskError: __main__\.TwoArgs: code 7: cannot be rebuilt from its args \(on node 0\)/)
    expect(got["1GiB-argument"]).toMatch(/^TaskPicklingError: argument 0 \(builtins\.bytes\) of the call to size\(\) is 1\.0 GiB pickled; one task can carry at most 255 MiB/)
    expect(got["1GiB-buffer-argument"]).toMatch(/^ok \[\(1073741824, 7\)\]/) // out of band: sent as a blob, in chunks
    expect(got["300MB-result"]).toMatch(/^TaskPicklingError: skyward\.ResultTooLarge: the task's answer is 300 MiB pickled; one answer can carry at most 255 MiB back/)
    // the failed tasks are marked failed in the events; no node was lost, the bridge never dropped the client
    expect(run.events.filter(isTag("TaskFailed")).map((e) => e.error)).toEqual([
      expect.stringMatching(/could not pickle the result/),
      expect.stringMatching(/code 7/),
      expect.stringMatching(/answer is 300 MiB/)
    ])
    expect(run.events.filter(isTag("NodeLost"))).toEqual([])
    expect(run.events.filter(isTag("BlobSent")).map((e) => e.bytes)).toEqual([2 ** 30])
    expect(run.stderr).not.toMatch(/closed a client connection/)
    expect(run.stdout.match(/^alive: \[0, 1, 4, 9\]$/gm)).toHaveLength(5)
    const left = await leftoversOf(run)
    for (const [name, text] of Object.entries(got))
      report({ fault: `Python: ${name} (joblib)`, happened: String(text).slice(0, 150), detectSeconds: /\(([\d.]+)s\)$/.exec(String(text))?.[1] + " s", retried: 0, correct: String(text).startsWith("ok") ? "yes (works)" : "yes (clear error, next call works)", left })
    expect(left).toEqual([])
  })
})
