import { execFile, execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import fs from "node:fs"
import path from "node:path"
import { promisify } from "node:util"
import { repo } from "./cli.js"

/** The workspace's Python: the loky baseline runs in it, and the pools get its library versions. */
const python = path.join(repo, ".venv/bin/python")

/** The `result:` lines an example prints: what loky and Skyward must agree on. */
export const resultLines = (stdout: string): string[] => stdout.split("\n").filter((line) => line.startsWith("result:"))

/**
 * `joblib==… numpy==… scipy==… scikit-learn==… cloudpickle==…` of the workspace's Python, so the
 * workers match the baseline. plugin-joblib's and plugin-sklearn's pool tests pin the same five:
 * every test pool with scikit-learn shares one cached environment.
 */
// read from the installed distributions' metadata: importing scikit-learn and scipy here would block
// the test worker's event loop for seconds on a loaded machine
const pins: ReadonlyArray<string> = execFileSync(
  python,
  [
    "-c",
    "from importlib.metadata import version; " +
      "print(' '.join(f'{name}=={version(name)}' for name in ('joblib', 'numpy', 'scipy', 'scikit-learn', 'cloudpickle')))"
  ],
  { encoding: "utf8" }
)
  .trim()
  .split(" ")

/** `--pip` options for `pins`. */
export const pipOptions: ReadonlyArray<string> = pins.flatMap((pin) => ["--pip", pin])

/** `--pip` options for numpy and joblib alone (what a pool on fresh hosts needs for numpy work: less to upload). */
export const numpyPipOptions: ReadonlyArray<string> = pins.filter((pin) => /^(numpy|joblib|cloudpickle)==/.test(pin)).flatMap((pin) => ["--pip", pin])

const cacheDir = path.join(repo, ".cache/loky-results")

/**
 * The `result:` lines of `script` run by plain Python (joblib's loky backend). Kept in `.cache/` by the
 * script's content and the library versions, so the three test files that compare `grid_search.py`
 * with loky run it under loky once.
 */
export const lokyResultLines = async (script: string): Promise<string[]> => {
  const key = createHash("sha256").update(fs.readFileSync(script)).update(pins.join(" ")).digest("hex").slice(0, 32)
  const file = path.join(cacheDir, `${path.basename(script, ".py")}-${key}.json`)
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as string[]
  const lines = resultLines((await promisify(execFile)(python, [script], { encoding: "utf8", maxBuffer: 64 << 20 })).stdout)
  fs.mkdirSync(cacheDir, { recursive: true })
  const partial = `${file}.${process.pid}`
  fs.writeFileSync(partial, JSON.stringify(lines))
  fs.renameSync(partial, file)
  return lines
}
