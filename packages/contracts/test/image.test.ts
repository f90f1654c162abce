import { describe, expect, it } from "vitest"
import { emptyImage, imageHash, withPip } from "../src/index.js"

const pinned = withPip(emptyImage, "joblib==1.5.2", "scikit-learn==1.7.2", "cloudpickle==3.1.2")

describe("imageHash: which Images share one cached environment", () => {
  it("a plugin's bare name next to the user's pin of the same project is the same environment", () => {
    // what `--pip joblib==1.5.2 --plugin sklearn` gives: the plugins add `joblib`, `cloudpickle`, `scikit-learn`
    const withPlugins = withPip(pinned, "joblib", "Cloudpickle", "scikit_learn")
    expect(imageHash(withPlugins)).toBe(imageHash(pinned))
    expect(imageHash(withPip(pinned, " joblib==1.5.2 "))).toBe(imageHash(pinned))
  })

  it("a bare name that adds a project, another version, or a marker is another environment", () => {
    expect(imageHash(withPip(pinned, "numpy"))).not.toBe(imageHash(pinned))
    expect(imageHash(withPip(emptyImage, "joblib==1.5.2", "scikit-learn==1.7.2", "cloudpickle==3.1.1"))).not.toBe(imageHash(pinned))
    // the marker may not hold on a node, where the bare `joblib` still installs it
    const marked = withPip(emptyImage, "joblib==1.5.2; python_version < '3.12'")
    expect(imageHash(withPip(marked, "joblib"))).not.toBe(imageHash(marked))
  })

  it("the order of the requirements does not matter", () => {
    expect(imageHash(withPip(emptyImage, "cloudpickle==3.1.2", "scikit-learn==1.7.2", "joblib==1.5.2"))).toBe(imageHash(pinned))
  })
})
