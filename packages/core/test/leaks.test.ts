import { execFileSync } from "node:child_process"
import fs from "node:fs"
import { describe, expect, it } from "vitest"
import { strayProcesses, waitForNoAgents } from "./leaks.js"

const parentOf = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
}

/** Starts `sleep 30` from a shell that exits at once: the sleep is orphaned (re-parented to init). */
const orphan = (env: NodeJS.ProcessEnv): number =>
  Number(execFileSync("/bin/sh", ["-c", "sleep 30 >/dev/null 2>&1 & echo $!"], { env, encoding: "utf8" }).trim())

describe("the leak check of the pool tests", () => {
  it("finds a process this file started after it was re-parented away from us, and none of another run", async () => {
    const ours = orphan(process.env)
    const theirs = orphan({ ...process.env, SKYWARD_TEST_RUN: "another-run", TMPDIR: "/tmp" })
    try {
      expect(parentOf(ours)).not.toBe(process.pid) // not our descendant any more
      const found = strayProcesses().map((p) => p.pid)
      expect(found).toContain(ours)
      expect(found).not.toContain(theirs)
      expect(strayProcesses().find((p) => p.pid === ours)?.command).toBe("sleep 30")
    } finally {
      process.kill(ours, "SIGKILL")
      process.kill(theirs, "SIGKILL")
    }
    expect(await waitForNoAgents()).toEqual([])
  })
})
