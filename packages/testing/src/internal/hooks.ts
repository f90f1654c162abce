import fs from "node:fs"
import path from "node:path"
import { checkPluginCompatibility } from "@skyward/core"
import { type Cluster, type ClusterSpec, type Image, type ImageInput, ImageSchema, isDefinedPlugin, type Plugin, type PythonModuleDir } from "@skyward/contracts"
import { Schema } from "effect"

/** The pretend cluster the client-side hooks see in `runPluginHooks`. */
export interface HookCluster {
  readonly nodes?: number
  readonly concurrency?: number
  readonly executor?: "process" | "thread"
  /** Provider name the hooks see (default "local"). */
  readonly provider?: string
}

/** What a plugin's client-side hooks produced, and what is wrong with the plugin. */
export interface PluginHookReport {
  /** The Image after the plugin's `image` hook (the input Image when it has none). */
  readonly image: Image
  /** The shell commands of its `bootstrap` hook. */
  readonly bootstrap: ReadonlyArray<string>
  /** The Python folders it ships. */
  readonly modules: ReadonlyArray<PythonModuleDir>
  /** Its worker hooks, as "module:attr". */
  readonly taskHook: string | undefined
  readonly appHook: string | undefined
  /** True when made by `definePlugin` (of any installed copy of core). */
  readonly defined: boolean
  /** Definite mistakes: incompatible core, missing module folders, malformed hook names, a hook that throws. */
  readonly problems: ReadonlyArray<string>
  /** Worth a look: a worker hook whose module is not in the shipped folders (fine if a pip package of the Image provides it). */
  readonly warnings: ReadonlyArray<string>
}

const HOOK_SPEC = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/

/** True when `module` ("a.b") is a file or package inside one of `dirs`. */
const shipsModule = (dirs: ReadonlyArray<string>, module: string): boolean => {
  const parts = module.split(".")
  return dirs.some((dir) => {
    const base = path.join(dir, ...parts)
    return fs.existsSync(`${base}.py`) || fs.existsSync(path.join(base, "__init__.py"))
  })
}

const fakeCluster = (spec: ClusterSpec): Cluster => ({
  id: spec.id,
  provider: spec.provider,
  nodes: Array.from({ length: spec.nodes }, (_, index) => ({ index, address: "localhost", data: {} }))
})

/**
 * Runs a plugin's client-side hooks without a pool (no Python, no processes): its `image` hook on
 * `image`, its `bootstrap` hook on a pretend cluster, and checks what it ships. Fast enough for a
 * unit test of every option of a plugin factory; use `withTestPool` to see the hooks work for real.
 *
 * ```ts
 * const report = runPluginHooks(myPlugin({ verbose: true }))
 * expect(report.problems).toEqual([])
 * expect(report.image.env.MY_PLUGIN_VERBOSE).toBe("1")
 * ```
 */
export const runPluginHooks = (plugin: Plugin, options: { readonly image?: ImageInput; readonly cluster?: HookCluster } = {}): PluginHookReport => {
  const problems: string[] = []
  const warnings: string[] = []
  const spec: ClusterSpec = {
    id: "sky-hooktest",
    provider: options.cluster?.provider ?? "local",
    nodes: options.cluster?.nodes ?? 2,
    maxNodes: options.cluster?.nodes ?? 2,
    concurrency: options.cluster?.concurrency ?? 2,
    executor: options.cluster?.executor ?? "process",
    volumes: []
  }
  if (typeof plugin.name !== "string" || plugin.name === "") problems.push("the plugin has no name")
  const incompatible = checkPluginCompatibility(plugin)
  if (incompatible) problems.push(incompatible.message)

  const input = Schema.decodeUnknownSync(ImageSchema)(options.image ?? {})
  let image = input
  try {
    const result = plugin.image?.(input, spec)
    if (result !== undefined) image = Schema.decodeUnknownSync(ImageSchema)(result)
  } catch (error) {
    problems.push(`image hook failed: ${(error as Error).message}`)
  }

  let bootstrap: ReadonlyArray<string> = []
  try {
    bootstrap = plugin.bootstrap?.(fakeCluster(spec)) ?? []
    if (!Array.isArray(bootstrap) || bootstrap.some((op) => typeof op !== "string"))
      problems.push("bootstrap hook must return an array of shell command strings")
  } catch (error) {
    problems.push(`bootstrap hook failed: ${(error as Error).message}`)
  }

  const modules = plugin.python?.modules ?? []
  for (const module of modules) {
    if (!path.isAbsolute(module.path)) problems.push(`python module folder ${module.name}: ${module.path} is not an absolute path`)
    else if (!fs.existsSync(module.path) || !fs.statSync(module.path).isDirectory())
      problems.push(`python module folder ${module.name}: ${module.path} does not exist (is it in the package's "files"?)`)
  }
  const dirs = modules.map((m) => m.path)
  for (const [kind, hook] of [["task", plugin.python?.task], ["app", plugin.python?.app]] as const) {
    if (hook === undefined) continue
    if (!HOOK_SPEC.test(hook)) {
      problems.push(`${kind} hook ${JSON.stringify(hook)} is not "module:attr"`)
      continue
    }
    const module = hook.split(":")[0]!
    if (!shipsModule(dirs, module))
      warnings.push(`${kind} hook ${hook}: module ${module} is not in the plugin's python.modules folders`)
  }

  return {
    image,
    bootstrap,
    modules,
    taskHook: plugin.python?.task,
    appHook: plugin.python?.app,
    defined: isDefinedPlugin(plugin),
    problems,
    warnings
  }
}
