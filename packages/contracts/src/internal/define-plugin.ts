import type { Plugin } from "./plugin.js"

/** The version of the plugin protocol (the hooks of `Plugin` and what they are given). */
export const PLUGIN_SPECIFICATION_VERSION = 1

/** Marks plugins made by `definePlugin`; `Symbol.for` so two installed copies of core agree. */
export const PLUGIN_BRAND: unique symbol = Symbol.for("@skyward/core/plugin")

/** A plugin made by `definePlugin`. */
export type DefinedPlugin<P extends Plugin> = P & { readonly [PLUGIN_BRAND]: true; readonly specificationVersion: number }

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
