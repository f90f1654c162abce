import { createHash } from "node:crypto"
import { Schema } from "effect"

/** A pip requirement: a project name with optional extras, version specifiers or a direct URL. */
const PIP_REQUIREMENT = /^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)(\[[A-Za-z0-9._,\s-]+\])?\s*(((===?|!=|~=|<=?|>=?)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*|@\s*\S+)(\s*;.*)?$/

/** Schema of one pip requirement string. */
export const PipRequirement = Schema.String.pipe(
  Schema.filter((s) => PIP_REQUIREMENT.test(s.trim()) || `malformed pip requirement ${JSON.stringify(s)}`)
)

/**
 * What an Image takes over from the client's Python environment (`skyward run` with a virtual
 * environment active): the exact distributions it has installed. A node that cannot install one
 * of them (no wheel for its platform) runs without it and says so, where a missing `pip`
 * requirement is an error.
 */
export const MirrorSchema = Schema.Struct({
  /** The client's Python version ("3.11.7"): a node with another patch version is reported. */
  python: Schema.String.pipe(Schema.pattern(/^3\.\d+\.\d+/, { message: () => "mirror.python must look like \"3.11.7\"" })),
  /** `name==version` per distribution, or `name @ file:///.../name-1.0-py3-none-any.whl` for one built on the client. */
  pip: Schema.Array(PipRequirement)
})

/** The client's environment as an Image mirrors it. */
export type Mirror = typeof MirrorSchema.Type

/** Schema of the environment a node runs: packages, indexes, variables, Python version, files. */
export const ImageSchema = Schema.Struct({
  pip: Schema.optionalWith(Schema.Array(PipRequirement), { default: () => [] }),
  pipIndexes: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  env: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  apt: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  python: Schema.optionalWith(
    Schema.String.pipe(Schema.pattern(/^3(\.\d+)?$/, { message: () => "python must look like \"3\" or \"3.11\"" })),
    { default: () => "3" }
  ),
  files: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  /** The client's Python environment, mirrored: see {@link MirrorSchema}. */
  mirror: Schema.optional(MirrorSchema)
})

/** The environment of every node: built once per `imageHash`, reused after. */
export type Image = typeof ImageSchema.Type
/** What a user writes for an Image: every field optional. */
export type ImageInput = typeof ImageSchema.Encoded

/** An Image with nothing in it: Python 3, no extra packages. */
export const emptyImage: Image = { pip: [], pipIndexes: [], env: {}, apt: [], python: "3", files: {} }

/** Returns a copy of `image` with `pip` appended, skipping requirements already present. */
export const withPip = (image: Image, ...requirements: ReadonlyArray<string>): Image => ({
  ...image,
  pip: [...image.pip, ...requirements.filter((r) => !image.pip.includes(r))]
})

/** Returns a copy of `image` with `env` merged in (later wins). */
export const withEnv = (image: Image, env: Readonly<Record<string, string>>): Image => ({
  ...image,
  env: { ...image.env, ...env }
})

/** A requirement that is only a project's name: no version, extras, marker or URL. */
const BARE = /^[A-Za-z0-9._-]+$/

/** A requirement's project name as pip compares them (PEP 503): `Scikit_Learn>=1` gives `scikit-learn`. */
export const projectName = (requirement: string): string =>
  (/^[A-Za-z0-9._-]+/.exec(requirement)?.[0] ?? requirement).toLowerCase().replace(/[-_.]+/g, "-")

/**
 * The requirements that decide what pip installs, once each and sorted: a bare name (a plugin's
 * `joblib`) adds nothing when the same project is also required with a version (the user's
 * `joblib==1.5.2`), so both spellings of one environment share it.
 */
const decisivePip = (pip: ReadonlyArray<string>): string[] => {
  const unique = [...new Set(pip.map((s) => s.trim()))]
  // a requirement with a marker may not apply on a node, so it does not make the bare name redundant
  const qualified = new Set(unique.filter((s) => !BARE.test(s) && !s.includes(";")).map(projectName))
  return unique.filter((s) => !(BARE.test(s) && qualified.has(projectName(s)))).sort()
}

/** True when `requirement` names a version, a URL or a marker: more than a bare project name. */
const isQualified = (requirement: string): boolean => !BARE.test(requirement.trim())

/**
 * The mirrored distributions that still apply: the Image's own `pip` comes on top, so a project it
 * requires with a version or URL (`--pip scikit-learn==1.6.0`) replaces the client's version of it.
 */
export const mirroredPip = (image: Image): string[] => {
  const own = new Set(image.pip.filter(isQualified).map(projectName))
  return (image.mirror?.pip ?? []).filter((r) => !own.has(projectName(r)))
}

/**
 * Hash of what determines the Python environment (packages, indexes, system packages, Python):
 * two Images with the same hash share one cached environment. `env` and `files` are applied
 * when the agent starts, so they do not change it; nor does the client's patch version.
 */
export const imageHash = (image: Image, extra: ReadonlyArray<string> = []): string =>
  createHash("sha256")
    .update(
      JSON.stringify({
        pip: decisivePip(image.pip),
        pipIndexes: image.pipIndexes,
        apt: [...image.apt].sort(),
        python: image.python,
        extra,
        ...(image.mirror ? { mirror: [...mirroredPip(image)].sort() } : {})
      })
    )
    .digest("hex")
    .slice(0, 16)
