import { execFile } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { ComputePool } from "@skyward/core"
import { emptyImage } from "@skyward/contracts"
import { joblib } from "@skyward/plugin-joblib"
import { ACTIVATE_MODULE } from "@skyward/plugin-joblib/testing"
import { describe, expect, it } from "vitest"
import { sklearn } from "../src/index.js"

const run = promisify(execFile)
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const venvPython = path.join(repo, ".venv", "bin", "python")
const spec = { id: "sky-test", provider: "local", nodes: 1, maxNodes: 1, concurrency: 1, executor: "process" as const, volumes: [] }

/**
 * The client's own versions, so the workers unpickle what the client pickled (as `skyward run`
 * ensures): the five pins of the CLI's and plugin-joblib's test pools, one cached environment.
 */
const clientVersions = async () => {
  const { stdout } = await run(venvPython, [
    "-c",
    "import joblib, sklearn, numpy, scipy, cloudpickle; print(joblib.__version__, sklearn.__version__, numpy.__version__, scipy.__version__, cloudpickle.__version__)"
  ])
  const [joblibVersion, sklearnVersion, numpyVersion, scipyVersion, cloudpickleVersion] = stdout.trim().split(" ") as [string, string, string, string, string]
  return { joblibVersion, sklearnVersion, numpyVersion, scipyVersion, cloudpickleVersion }
}

const GRID_SEARCH = `
import ${ACTIVATE_MODULE}
from joblib import parallel_config, effective_n_jobs
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

X, y = load_digits(return_X_y=True)
def search():
    pipe = Pipeline([("scaler", StandardScaler()), ("clf", SVC())])
    grid = {"clf__C": [1, 10], "clf__gamma": ["scale", 0.001]}
    return GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)
remote = search()
with parallel_config(backend="loky"):
    local = search()
print(effective_n_jobs(-1))
print(remote.best_params_ == local.best_params_)
print(list(remote.cv_results_["mean_test_score"]) == list(local.cv_results_["mean_test_score"]))
`

describe("the sklearn plugin", () => {
  it("adds scikit-learn on top of the joblib plugin's Image", () => {
    expect(sklearn().name).toBe("sklearn")
    expect(sklearn().image!(emptyImage, spec).pip).toEqual(["joblib", "cloudpickle", "scikit-learn"])
    expect(sklearn({ version: "1.5.2", joblibVersion: "1.4.2" }).image!(emptyImage, spec).pip).toEqual([
      "joblib==1.4.2",
      "cloudpickle",
      "scikit-learn==1.5.2"
    ])
  })

  it("ships the joblib plugin's Python package, not a copy", () => {
    expect(sklearn().python).toEqual(joblib().python)
    const dir = sklearn().python!.modules[0]!.path
    expect(fs.existsSync(path.join(dir, "skyward_joblib", "_backend.py"))).toBe(true)
    expect(fs.existsSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "python"))).toBe(false)
  })

  it.skipIf(!fs.existsSync(venvPython))(
    "shares one bridge with joblib() and runs an unchanged GridSearchCV on a 2 x 2 pool like loky",
    async () => {
      const v = await clientVersions()
      await ComputePool.use(
        {
          nodes: 2,
          worker: { concurrency: 2 },
          image: { pip: [`scikit-learn==${v.sklearnVersion}`, `numpy==${v.numpyVersion}`, `scipy==${v.scipyVersion}`, `cloudpickle==${v.cloudpickleVersion}`] },
          plugins: [joblib({ version: v.joblibVersion }), sklearn({ version: v.sklearnVersion, joblibVersion: v.joblibVersion })]
        },
        async (pool) => {
          expect(pool.client.imports).toEqual([ACTIVATE_MODULE])
          expect(pool.client.pythonPath).toHaveLength(2)
          const { stdout } = await run(venvPython, ["-c", GRID_SEARCH], {
            env: { ...process.env, ...pool.client.env, PYTHONPATH: pool.client.pythonPath.join(path.delimiter) },
            timeout: 240_000
          })
          expect(stdout.trim().split("\n")).toEqual(["4", "True", "True"])
        }
      )
    },
    600_000
  )
})
