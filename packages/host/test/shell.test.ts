import fs from "node:fs"
import { Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { runCommand } from "../src/index.js"

/** Whether `pid` runs (a zombie has ended: only its parent has not collected it yet). */
const alive = (pid: number): boolean => {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  } catch {
    return false
  }
}

const until = async (what: string, check: () => boolean, ms = 5_000): Promise<void> => {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
}

describe("runCommand", () => {
  it("interrupted, it kills what the command started too (pip's build backends, compileall's workers)", async () => {
    const started: number[] = []
    // the shell starts a child that would outlive it, says its pid, and waits
    const fiber = Effect.runFork(runCommand("sh", ["-c", "sleep 60 & echo $!; wait"], { onLine: (line) => started.push(Number(line)) }))
    try {
      await until("the child's pid", () => started.length === 1)
      expect(alive(started[0]!)).toBe(true)
      await Effect.runPromise(Fiber.interrupt(fiber))
      await until("the child to be killed with the shell", () => !alive(started[0]!))
    } finally {
      for (const pid of started) if (alive(pid)) process.kill(pid, "SIGKILL")
    }
  })

  it("reports the exit code of a command that ends by itself", async () => {
    const result = await Effect.runPromise(runCommand("sh", ["-c", "echo out; echo err >&2; exit 3"]))
    expect(result.code).toBe(3)
    expect(result.tail.split("\n").sort()).toEqual(["err", "out"])
  })
})
