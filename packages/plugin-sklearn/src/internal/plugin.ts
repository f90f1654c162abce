import { type Plugin, withPip } from "@skyward/contracts"
import { joblib, joblibClient, requirement } from "@skyward/plugin-joblib"

/** Options of the `sklearn()` plugin. */
export interface SklearnOptions {
  /** A scikit-learn version to pin on the workers (e.g. "1.5.2"); the latest when omitted. */
  readonly version?: string
  /** A joblib version to pin as well (what `joblib({ version })` would pin). */
  readonly joblibVersion?: string
}

/**
 * The scikit-learn plugin: the joblib plugin (its Image hook, its `skyward_joblib` Python package,
 * its client bridge: the same objects, not a copy) plus scikit-learn on every node. scikit-learn's
 * `n_jobs=-1` then means every slot of the pool.
 *
 * With `joblib()` in the same pool, only one bridge starts: whichever of the two opens first starts
 * it and the other finds it and contributes nothing.
 */
export const sklearn = (options: SklearnOptions = {}): Plugin => {
  const base = joblib(options.joblibVersion === undefined ? {} : { version: options.joblibVersion })
  return {
    name: "sklearn",
    image: (image, cluster) => withPip(base.image!(image, cluster), requirement("scikit-learn", options.version)),
    python: base.python!,
    aroundClient: (pool) => joblibClient(pool, "sklearn")
  }
}
