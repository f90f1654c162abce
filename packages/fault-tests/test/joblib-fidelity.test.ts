// loky's behaviour through the real CLI (issue 25): a nested `Parallel` naming "skyward" inside a
// task runs on its slot, an unpicklable result is the `TypeError` loky raises, and an uncaught
// task error prints loky's remote traceback without the engine's frames.
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { fixtures, leftoversOf, runCli, type CliRun } from "./support.js"

const script = path.join(fixtures, "joblib_fidelity.py")
let runs: CliRun[] = []
afterEach(() => {
  for (const run of runs) run.kill()
  runs = []
})

describe("joblib under skyward run, as under loky", () => {
  it("runs a nested call naming skyward, keeps loky's error classes and prints a clean traceback", async () => {
    const run = await runCli(["run", "--nodes", "1", "--concurrency", "2", "--plugin", "joblib", script])
    runs.push(run)
    expect(run.stdout).toContain("nested: [[0, 1, 4], [0, 1, 4]]\n")
    expect(run.stdout).toMatch(/^caught TypeError: .*cannot pickle '_thread\.lock' object$/m)
    // the script ends with the task's ValueError, as `python script.py` would end with it
    expect(run.code, run.stderr.slice(-3000)).toBe(1)
    const traceback = run.stderr.slice(run.stderr.indexOf("joblib.externals.loky.process_executor._RemoteTraceback"))
    expect(traceback).toMatch(/^joblib\.externals\.loky\.process_executor\._RemoteTraceback: \n"""\nTraceback \(most recent call last\):\n/)
    expect(traceback.match(/"""/g)).toHaveLength(2) // one block, as loky prints it
    expect(traceback).toContain('in fail\n    raise ValueError(f"task {x} failed")\nValueError: task 0 failed\n"""\n')
    // the caller's part starts at the script, as Python prints it: no launcher, runpy or agent frames
    const local = traceback.slice(traceback.indexOf("The above exception was the direct cause"))
    expect(local).toContain(`Traceback (most recent call last):\n  File "${script}", line 30, in <module>\n`)
    for (const frame of ['File "<string>"', "runpy", "skyward_worker"]) expect(traceback).not.toContain(frame)
    expect(await leftoversOf(run)).toEqual([])
  })
})
