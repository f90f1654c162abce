import { createRequire } from "node:module"
import semver from "semver"
import { PluginError } from "./errors.js"
import type { Plugin } from "./plugin.js"

/** The version of the plugin protocol this core speaks. */
export const PLUGIN_SPECIFICATION_VERSION = 1

/** Marks plugins made by `definePlugin`; `Symbol.for` so two installed copies of core agree. */
export const PLUGIN_BRAND: unique symbol = Symbol.for("@skyward/core/plugin")

/** A plugin made by `definePlugin`. */
export type DefinedPlugin<P extends Plugin> = P & { readonly [PLUGIN_BRAND]: true; readonly specificationVersion: number }

/** This package's own version, what `requires` ranges are checked against. */
export const CORE_VERSION: string = (createRequire(import.meta.url)("../../package.json") as { version: string }).version

/**
 * Defines a plugin: keeps its exact type (hooks and extra fields are inferred), stamps the
 * protocol version and the brand.
 *
 * ```ts
 * export const timing = (opts: { label?: string } = {}) =>
 *   definePlugin({ name: "task-timing", requires: ">=0.1.0", image: (image) => withEnv(image, { LABEL: opts.label ?? "" }) })
 * ```
 */
export const definePlugin = <const P extends Plugin>(plugin: P): DefinedPlugin<P> => ({
  ...plugin,
  specificationVersion: plugin.specificationVersion ?? PLUGIN_SPECIFICATION_VERSION,
  [PLUGIN_BRAND]: true as const
})

/** True for plugins made by any installed copy of `definePlugin`. */
export const isDefinedPlugin = (value: unknown): value is DefinedPlugin<Plugin> =>
  typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[PLUGIN_BRAND] === true

/**
 * Refuses a plugin written for another protocol version or whose `requires` range excludes this
 * core, naming both versions.
 */
export const checkPluginCompatibility = (plugin: Plugin, coreVersion: string = CORE_VERSION): PluginError | undefined => {
  if (plugin.specificationVersion !== undefined && plugin.specificationVersion !== PLUGIN_SPECIFICATION_VERSION)
    return new PluginError({
      plugin: plugin.name,
      message: `plugin ${plugin.name} speaks plugin protocol ${plugin.specificationVersion}, @skyward/core ${coreVersion} speaks ${PLUGIN_SPECIFICATION_VERSION}`
    })
  if (plugin.requires === undefined) return undefined
  if (semver.validRange(plugin.requires) === null)
    return new PluginError({ plugin: plugin.name, message: `plugin ${plugin.name}: requires ${JSON.stringify(plugin.requires)} is not a semver range` })
  if (!semver.satisfies(coreVersion, plugin.requires, { includePrerelease: true }))
    return new PluginError({
      plugin: plugin.name,
      message: `plugin ${plugin.name} requires @skyward/core ${plugin.requires}, but ${coreVersion} is installed: install a matching version of one or the other`
    })
  return undefined
}
