import { EC2Client } from "@aws-sdk/client-ec2"
import { SSMClient } from "@aws-sdk/client-ssm"
import { Effect, type Scope } from "effect"
import { AwsSetupError } from "./errors.js"
import type { AwsConnection } from "./options.js"

/** The SDK clients the provider uses. */
export interface AwsClients {
  readonly ec2: EC2Client
  readonly ssm: SSMClient
  readonly region: string
}

/** Makes the SDK clients (tests wrap this to add middleware to the real clients). */
export type ClientFactory = (connection: AwsConnection) => { readonly ec2: EC2Client; readonly ssm: SSMClient }

/** The standard factory: the SDK's credential chain and region resolution, bounded timeouts. */
export const defaultClients: ClientFactory = (connection) => {
  const config = {
    ...(connection.region === undefined ? {} : { region: connection.region }),
    ...(connection.profile === undefined ? {} : { profile: connection.profile }),
    ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
    maxAttempts: 4,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 }
  }
  return { ec2: new EC2Client(config), ssm: new SSMClient(config) }
}

const describe = (cause: unknown) => (cause as Error)?.message ?? String(cause)

/**
 * Makes the clients and checks, before anything is created, that a region and credentials
 * resolve through the SDK's standard chain (env, profile, SSO, container or instance roles).
 * The clients are destroyed when the scope closes.
 */
export const acquireClients = (
  connection: AwsConnection,
  factory: ClientFactory = defaultClients
): Effect.Effect<AwsClients, AwsSetupError, Scope.Scope> =>
  Effect.gen(function* () {
    const { ec2, ssm } = yield* Effect.acquireRelease(
      Effect.try({
        try: () => factory(connection),
        catch: (cause) => new AwsSetupError({ field: "provider", message: `cannot set up the AWS SDK: ${describe(cause)}`, cause })
      }),
      (clients) =>
        Effect.sync(() => {
          clients.ec2.destroy()
          clients.ssm.destroy()
        })
    )
    const region = yield* Effect.tryPromise({
      try: () => ec2.config.region(),
      catch: (cause) =>
        new AwsSetupError({
          field: "provider.region",
          message:
            `no AWS region: ${describe(cause)}. Pass aws({ region: "us-east-1" }) (CLI: --region), ` +
            `or set AWS_REGION, or a region in the profile of ~/.aws/config`,
          cause
        })
    })
    yield* Effect.tryPromise({
      try: () => ec2.config.credentials(),
      catch: (cause) =>
        new AwsSetupError({
          field: "provider.credentials",
          message:
            `no AWS credentials: ${describe(cause)}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
            `or AWS_PROFILE (aws configure / aws sso login), or run where an instance or container role applies`,
          cause
        })
    })
    return { ec2, ssm, region }
  })
