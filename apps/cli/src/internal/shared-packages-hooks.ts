/**
 * Node module hooks (registered by ./shared-packages.ts with `module.register`): an import of
 * `@skyward/*` or `effect` from a user's module (a plugin, a config, what they import) resolves as
 * if skyward itself imported it, so plugins and configs use the CLI's own copies, also from a
 * folder with no node_modules. Skyward's own packages resolve as usual.
 * @internal
 */

/** `@skyward/<name>` or `effect`, with or without a subpath: the packages plugins and configs share with skyward. */
export const SHARED_SPECIFIER = /^(?:@skyward\/[^/]+|effect)(?:\/|$)/

/** What `register` hands to {@link initialize}. */
export interface SharedPackagesData {
  /** A module of the CLI: shared imports resolve as if it imported them. */
  readonly parentURL: string
  /** file: URLs (ending in `/`) of the CLI's folder and of its shared packages: their imports are left alone. */
  readonly own: ReadonlyArray<string>
}

let data: SharedPackagesData | undefined

/** Keeps what the CLI computed (Node calls this once, on the hooks' thread). */
export const initialize = (given: SharedPackagesData): void => {
  data = given
}

interface ResolveContext {
  readonly parentURL?: string | undefined
  readonly conditions: ReadonlyArray<string>
  readonly importAttributes?: Record<string, string>
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<{ readonly url: string }>

/** Resolves a shared import of a user's module from the CLI when the CLI has that package, else as usual. */
export const resolve = async (specifier: string, context: ResolveContext, nextResolve: NextResolve) => {
  const parent = context.parentURL
  if (data !== undefined && parent !== undefined && SHARED_SPECIFIER.test(specifier) && !data.own.some((prefix) => parent.startsWith(prefix))) {
    try {
      return await nextResolve(specifier, { ...context, parentURL: data.parentURL })
    } catch {
      // not a package of the CLI's (say @skyward/testing): the importer's own copy, as Node finds it
    }
  }
  return nextResolve(specifier, context)
}
