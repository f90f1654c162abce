import { execFile } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { promisify } from "node:util"
import { repo } from "./cli.js"

/** A copy of `examples/project` in a private folder of its own, with its virtual environment, as a new user makes it. */
export interface ProjectCopy {
  /** The project folder (`dir/project`; `dir` is mode 0700, like a home folder). */
  readonly dir: string
  /** Its virtual environment's interpreter. */
  readonly python: string
  /** This process's environment with the virtual environment active (`. .venv/bin/activate`). */
  readonly activeEnv: NodeJS.ProcessEnv
  /** This process's environment with no virtual environment active. */
  readonly plainEnv: NodeJS.ProcessEnv
  /** Removes the copy and its environment. */
  readonly remove: () => void
}

/** The example's `result:` lines and where its tasks ran (its `where:` line). */
export interface ProjectRun {
  readonly results: ReadonlyArray<string>
  readonly client: number
  /** [pid, SKYWARD_NODE_INDEX] of each task. */
  readonly tasks: ReadonlyArray<readonly [number, string | null]>
}

const run = promisify(execFile)

/** Reads what `examples/project/main.py` printed. */
export const parseProjectRun = (stdout: string): ProjectRun => {
  const where = stdout.split("\n").find((l) => l.startsWith("where: "))
  const parsed = where ? (JSON.parse(where.slice("where: ".length)) as { client: number; tasks: Array<[number, string | null]> }) : { client: -1, tasks: [] }
  return { results: stdout.split("\n").filter((l) => l.startsWith("result:")), ...parsed }
}

/**
 * Copies `examples/project` into a fresh private folder and makes its virtual environment there as
 * its README says (`python3 -m venv .venv`, `pip install -r requirements.txt`, from the folder).
 */
export const makeProjectCopy = async (): Promise<ProjectCopy> => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-project-"))
  fs.chmodSync(parent, 0o700)
  const dir = path.join(parent, "project")
  try {
    fs.cpSync(path.join(repo, "examples/project"), dir, { recursive: true })
    // asynchronous: a test worker blocked for minutes misses vitest's own heartbeats
    await run("python3", ["-m", "venv", ".venv"], { cwd: dir })
    await run(".venv/bin/python", ["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", "requirements.txt"], { cwd: dir })
  } catch (error) {
    fs.rmSync(parent, { recursive: true, force: true })
    throw error
  }
  const { VIRTUAL_ENV: _active, ...plainEnv } = process.env
  const venv = path.join(dir, ".venv")
  return {
    dir,
    python: path.join(venv, "bin", "python"),
    activeEnv: { ...plainEnv, VIRTUAL_ENV: venv, PATH: `${path.join(venv, "bin")}:${process.env.PATH ?? ""}` },
    plainEnv,
    remove: () => fs.rmSync(parent, { recursive: true, force: true })
  }
}
