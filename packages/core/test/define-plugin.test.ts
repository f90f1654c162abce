import { describe, expect, it } from "vitest"
import { checkPluginCompatibility, ComputePool, CORE_VERSION, definePlugin, isDefinedPlugin, PluginError, withEnv } from "../src/index.js"

describe("definePlugin", () => {
  it("keeps the plugin's own fields and stamps version and brand", () => {
    const plugin = definePlugin({ name: "demo", label: "x", image: (image) => withEnv(image, { A: "1" }) })
    expect(plugin.label).toBe("x")
    expect(plugin.specificationVersion).toBe(1)
    expect(isDefinedPlugin(plugin)).toBe(true)
    expect(isDefinedPlugin({ name: "plain" })).toBe(false)
  })

  it("is recognised across copies of core (Symbol.for brand)", () => {
    const foreign = { name: "other-copy", [Symbol.for("@skyward/core/plugin")]: true }
    expect(isDefinedPlugin(foreign)).toBe(true)
  })

  it("refuses a core version outside `requires`, naming both versions", () => {
    const error = checkPluginCompatibility(definePlugin({ name: "old", requires: "^99.0.0" }))
    expect(error).toBeInstanceOf(PluginError)
    expect(error?.message).toContain("^99.0.0")
    expect(error?.message).toContain(CORE_VERSION)
    expect(checkPluginCompatibility(definePlugin({ name: "ok", requires: `>=${CORE_VERSION}` }))).toBeUndefined()
    expect(checkPluginCompatibility(definePlugin({ name: "bad", requires: "not a range" }))?.message).toContain("not a semver range")
    expect(checkPluginCompatibility({ name: "future", specificationVersion: 2 })?.message).toContain("plugin protocol 2")
  })

  it("an incompatible plugin stops the pool before anything starts", async () => {
    let opened = false
    const error = await ComputePool.use({ plugins: [definePlugin({ name: "old", requires: "^99.0.0" })] }, async () => {
      opened = true
    }).catch((e) => e)
    expect(error).toBeInstanceOf(PluginError)
    expect(opened).toBe(false)
  })
})
