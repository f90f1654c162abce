import { Effect, Option } from "effect"
import { UsageError } from "../errors.js"

/** The connection flags `skyward ls` and `skyward down` share with `--provider aws`. */
export interface ConnectionFlags {
  readonly region: Option.Option<string>
  readonly profile: Option.Option<string>
  readonly endpoint: Option.Option<string>
}

/** Loads the AWS provider package (only these commands and `--provider aws` need it). */
export const loadAws = Effect.tryPromise({
  try: () => {
    // the SDK's notice about future Node versions is noise on a command line
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
    return import("@skyward/provider-aws")
  },
  catch: (cause) => new UsageError({ message: `cannot load @skyward/provider-aws: ${(cause as Error).message}` })
})

/** The flags as the provider's connection options. */
export const connectionOf = (flags: ConnectionFlags) => ({
  ...Option.match(flags.region, { onNone: () => ({}), onSome: (region) => ({ region }) }),
  ...Option.match(flags.profile, { onNone: () => ({}), onSome: (profile) => ({ profile }) }),
  ...Option.match(flags.endpoint, { onNone: () => ({}), onSome: (endpoint) => ({ endpoint }) })
})

/** Whether an AWS flag was given: EC2 was asked for, and its set-up errors stop the command. */
export const awsAsked = (flags: ConnectionFlags): boolean => Option.isSome(flags.region) || Option.isSome(flags.profile) || Option.isSome(flags.endpoint)

/** Whether AWS is set up for this command: an AWS flag, or a region or profile in the environment. */
export const awsConfigured = (flags: ConnectionFlags): boolean =>
  awsAsked(flags) || Boolean(process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || process.env.AWS_PROFILE)

/** Setup errors (no credentials, no region) are usage errors; API failures are not. */
export const asCliError = (e: { readonly _tag: string; readonly message: string }) =>
  e._tag === "AwsSetupError" ? new UsageError({ message: e.message }) : e

/** A table with left-aligned columns. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n")
}
