import { createRequire } from "node:module"
import { PLUGIN_SPECIFICATION_VERSION, PluginError, type Plugin } from "@skyward/contracts"
import semver from "semver"

/** This package's own version, what `requires` ranges are checked against. */
export const CORE_VERSION: string = (createRequire(import.meta.url)("../../package.json") as { version: string }).version

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
