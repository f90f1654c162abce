import fs from "node:fs"
import path from "node:path"
import { emptyImage, type Image } from "@skyward/contracts"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { agentModules, AGENT_REQUIREMENTS, installRequirements, runDroppingUnavailable, unavailableProject } from "../src/index.js"

const mirrored: Image = { ...emptyImage, pip: ["scikit-learn==1.6.0", "joblib"], mirror: { python: "3.11.7", pip: ["scikit-learn==1.5.2", "pandas==2.2.3", "joblib==1.4.2"] } }

describe("what a node's environment installs", () => {
  it("the agent's requirements, the Image's pip, then the mirror, where a pinned pip requirement replaces the client's version", () => {
    expect(installRequirements(mirrored)).toEqual([...AGENT_REQUIREMENTS, "scikit-learn==1.6.0", "joblib", "pandas==2.2.3", "joblib==1.4.2"])
  })

  it("leaves out a mirrored requirement pip finds no distribution of, and runs pip again; never one of the Image's own", async () => {
    const runs: string[][] = []
    const pip = (requirements: ReadonlyArray<string>) =>
      Effect.sync(() => {
        runs.push([...requirements])
        const missing = ["pandas==2.2.3", "scikit-learn==1.6.0"].find((r) => requirements.includes(r))
        return missing ? { code: 1, tail: `ERROR: No matching distribution found for ${missing}` } : { code: 0, tail: "" }
      })
    const result = await Effect.runPromise(runDroppingUnavailable(mirrored, pip))
    expect(result.dropped).toEqual(["pandas==2.2.3"])
    expect(result.attempt.code).toBe(1) // scikit-learn==1.6.0 is the Image's own: an error, not a drop
    expect(runs).toHaveLength(2)
  })

  it("reads the project pip could not find from its output, normalised", () => {
    expect(unavailableProject("ERROR: Could not find a version that satisfies the requirement Scikit_Learn==9.9 (from versions: none)")).toBe("scikit-learn")
    expect(unavailableProject("ERROR: ResolutionImpossible")).toBeUndefined()
  })

  it("ships the agent's package alone: its folder holds skyward_worker and nothing else", () => {
    const modules = agentModules()
    expect(modules.name).toBe("skyward_worker")
    expect(fs.readdirSync(modules.path).filter((name) => name !== "__pycache__")).toEqual(["skyward_worker"])
    expect(fs.existsSync(path.join(modules.path, "skyward_worker", "__main__.py"))).toBe(true)
  })
})
