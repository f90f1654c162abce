import { Either, ParseResult, Schema } from "effect"
import { DEFAULT_ARGUMENT_LIMIT, MAX_ARGUMENT_LIMIT } from "./argument-limit.js"
import { formatBytes } from "./bytes.js"
import { ConfigError } from "./errors.js"
import { ImageSchema } from "./image.js"
import { VolumeSchema, type VolumeAccess } from "./volume.js"
import type { Plugin } from "./plugin.js"
import type { ProviderDefinition } from "./provider.js"
import { DEFAULT_WORKDIR_LIMIT } from "./workdir.js"

const isProviderDefinition = (u: unknown): u is ProviderDefinition =>
  typeof u === "object" && u !== null && typeof (u as { name?: unknown }).name === "string" && "layer" in u

const isPlugin = (u: unknown): u is Plugin =>
  typeof u === "object" && u !== null && typeof (u as { name?: unknown }).name === "string"

const isVolumeAccess = (u: unknown): u is VolumeAccess =>
  typeof u === "object" && u !== null && typeof (u as { check?: unknown }).check === "function" && typeof (u as { env?: unknown }).env === "function"

const isLogStream = (u: unknown): u is PoolLogStream =>
  typeof u === "object" && u !== null && typeof (u as { write?: unknown }).write === "function"

/**
 * Where a pool's log goes when it is not stderr: anything with a `write` (a file stream, `process.stdout`,
 * an object of your own). With `isTTY: true` the task line is a bar redrawn in place; otherwise
 * every line is a plain line of its own.
 */
export interface PoolLogStream {
  readonly write: (text: string) => unknown
  readonly isTTY?: boolean
  readonly columns?: number
}

const PositiveInt = Schema.Int.pipe(Schema.positive({ message: () => "must be a positive integer" }))
const PositiveSeconds = Schema.Number.pipe(Schema.positive({ message: () => "must be a positive number of seconds" }))

/** What runs a node's tasks; an unknown value names both choices (`must be "process" or "thread", got "fork"`). */
const Executor = Schema.Literal("process", "thread").annotations({
  message: (issue) => ({
    message: `must be "process" or "thread", got ${typeof issue.actual === "string" ? JSON.stringify(issue.actual) : String(issue.actual)}`,
    override: true
  })
})

/** Schema of a node's worker: how many task slots, and what runs them. */
export const WorkerSchema = Schema.Struct({
  /** Task slots per node; default: the node's CPU count. */
  concurrency: Schema.optional(PositiveInt),
  executor: Schema.optionalWith(Executor, { default: () => "process" as const })
})

/** A node's worker settings. */
export type Worker = typeof WorkerSchema.Type

/** An elastic node count: the pool opens with `min` nodes and grows to `max` while tasks wait. */
const NodeRangeSchema = Schema.Struct({ min: PositiveInt, max: PositiveInt }).pipe(Schema.filter((range) => range.min <= range.max))

const isPositiveInt = (u: unknown) => Number.isInteger(u) && (u as number) > 0

/** What is wrong with a `nodes` that is neither a count nor a range. */
const nodesProblem = (actual: unknown): string => {
  if (typeof actual !== "object" || actual === null) return "must be a positive integer"
  const { min, max } = actual as { min?: unknown; max?: unknown }
  if (!isPositiveInt(min) || !isPositiveInt(max)) return "must be a positive integer, or { min, max } of positive integers"
  return `min (${String(min)}) must not be above max (${String(max)})`
}

const NodesSchema = Schema.Union(PositiveInt, NodeRangeSchema).annotations({
  message: (issue) => ({ message: nodesProblem(issue.actual), override: true })
})

/** A pool's node count: fixed, or elastic between `min` and `max`. */
export type NodeCount = number | { readonly min: number; readonly max: number }

/** The fewest and the most nodes of a pool (`min` = `max` for a fixed count). */
export const nodeRange = (nodes: NodeCount): { readonly min: number; readonly max: number } =>
  typeof nodes === "number" ? { min: nodes, max: nodes } : nodes

/** Schema of the options of `ComputePool`. */
export const PoolOptionsSchema = Schema.Struct({
  provider: Schema.optional(
    Schema.declare(isProviderDefinition, { message: () => "must be a provider such as local() or ssh({...})" })
  ),
  /**
   * How many nodes: a count, or `{ min, max }` for an elastic pool that opens with `min` nodes, adds
   * nodes (up to `max`) while its queue would wait longer than a node takes to get ready, and removes
   * nodes idle for `scaleDownAfter` (never below `min`). Elastic pools need a provider that can add
   * nodes to an open pool (local, ssh, aws).
   */
  nodes: Schema.optionalWith(NodesSchema, { default: () => 1 }),
  /** Seconds a node added to an elastic pool may stay idle before it is removed (default 120). */
  scaleDownAfter: Schema.optionalWith(PositiveSeconds, { default: () => 120 }),
  worker: Schema.optionalWith(WorkerSchema, { default: () => ({ executor: "process" as const }) }),
  image: Schema.optionalWith(ImageSchema, { default: () => Schema.decodeSync(ImageSchema)({}) }),
  plugins: Schema.optionalWith(
    Schema.Array(Schema.declare(isPlugin, { message: () => "must be a plugin object with a name" })),
    { default: () => [] }
  ),
  /** Seconds a task may run before it is cancelled. */
  timeout: Schema.optional(PositiveSeconds),
  /** How often a task whose worker was lost is run again elsewhere. */
  retries: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 100)), { default: () => 2 }),
  /** Seconds of silence after which a node is declared lost. */
  heartbeatTimeout: Schema.optionalWith(PositiveSeconds, { default: () => 15 }),
  /**
   * The folder that travels to every node and is its tasks' current directory (default: the
   * current directory); `false` sends none. See `snapshotWorkdir` for what is left out.
   */
  workdir: Schema.optionalWith(Schema.Union(Schema.Literal(false), Schema.NonEmptyString), { default: () => process.cwd() }),
  /**
   * Files of the working directory that never travel, whatever the ignore files say: absolute, or
   * relative to the working directory (`skyward run` adds its `--env-file`s: they hold secrets).
   */
  workdirExclude: Schema.optionalWith(Schema.Array(Schema.NonEmptyString), { default: () => [] }),
  /** Bytes the working directory may hold (default 100 MiB); above, the pool does not open. */
  workdirLimit: Schema.optionalWith(Schema.Int.pipe(Schema.positive({ message: () => "must be a positive number of bytes" })), {
    default: () => DEFAULT_WORKDIR_LIMIT
  }),
  /**
   * Bytes of large arguments (buffers of 1 MiB or more, such as numpy arrays, sent beside the task)
   * one task may carry (default 1 GiB); each node keeps up to this much of them. Above, the client
   * refuses the task before sending anything.
   */
  argumentLimit: Schema.optionalWith(
    Schema.Int.pipe(
      Schema.positive({ message: () => "must be a positive number of bytes" }),
      Schema.lessThanOrEqualTo(MAX_ARGUMENT_LIMIT, { message: () => `must be at most ${formatBytes(MAX_ARGUMENT_LIMIT)} (the largest buffer Node holds)` })
    ),
    { default: () => DEFAULT_ARGUMENT_LIMIT }
  ),
  /**
   * Data every node sees at a path of its own choosing (`/data`), without it passing through the
   * client: `s3://bucket/prefix` (fetched by each node, cached by ETag across pools), or a folder of
   * this machine (local and ssh providers). See `Volume`.
   */
  volumes: Schema.optionalWith(Schema.Array(VolumeSchema), { default: () => [] }),
  /** How nodes reach S3 volumes (`s3VolumeAccess()` of `@skyward/provider-aws`); needed with an `s3://` volume. */
  volumeAccess: Schema.optional(
    Schema.declare(isVolumeAccess, { message: () => "must be the access of s3VolumeAccess() from @skyward/provider-aws" })
  ),
  /**
   * Folders put first on the workers' `sys.path`: relative to the working directory, or absolute
   * on the nodes (`skyward run` puts the script's folder here, as `python script.py` would).
   */
  sysPath: Schema.optionalWith(Schema.Array(Schema.NonEmptyString), { default: () => [] }),
  /**
   * What the pool says as it runs, as `skyward run` says it: nodes provisioned, bootstrapping and
   * ready, tasks' output lines, lost nodes, and tasks done of queued. `true` (the default): on
   * stderr; `false`: nothing; a stream (see {@link PoolLogStream}): there.
   */
  log: Schema.optionalWith(
    Schema.Union(
      Schema.Boolean,
      Schema.declare(isLogStream, { message: () => "must be true, false or a stream with a write method" })
    ),
    { default: () => true }
  )
})

/** Pool options after validation, with defaults filled in. */
export type PoolOptions = typeof PoolOptionsSchema.Type
/** Pool options as a user writes them. */
export type PoolOptionsInput = typeof PoolOptionsSchema.Encoded

/** Validates pool options; the error names the first offending field (`worker.concurrency`). */
export const validatePoolOptions = (input: unknown): Either.Either<PoolOptions, ConfigError> =>
  Schema.decodeUnknownEither(PoolOptionsSchema, { errors: "first", onExcessProperty: "error" })(input ?? {}).pipe(
    Either.mapLeft((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const field = issue?.path.join(".") || "options"
      return new ConfigError({ field, message: `${field}: ${issue?.message ?? "invalid"}` })
    })
  )
