import { EC2Client } from "@aws-sdk/client-ec2"
import { IAMClient } from "@aws-sdk/client-iam"
import { SSMClient } from "@aws-sdk/client-ssm"
import { Effect, type Scope } from "effect"
import { AwsSetupError } from "./errors.js"
import type { AwsConnection } from "./options.js"

/** The SDK clients the provider uses. */
export interface AwsClients {
  readonly ec2: EC2Client
  readonly ssm: SSMClient
  /** IAM (global): the pool's instance profile (`instanceProfile: "pool"`). */
  readonly iam: IAMClient
  readonly region: string
}

/** Makes the SDK clients (tests wrap this to add middleware to the real clients). */
export type ClientFactory = (connection: AwsConnection) => { readonly ec2: EC2Client; readonly ssm: SSMClient; readonly iam: IAMClient }

/** The SDK client configuration of a connection: region, profile, endpoint, bounded retries and timeouts. */
export const clientConfig = (connection: AwsConnection) => ({
  ...(connection.region === undefined ? {} : { region: connection.region }),
  ...(connection.profile === undefined ? {} : { profile: connection.profile }),
  ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
  maxAttempts: 4,
  requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 }
})

/** The standard factory: the SDK's credential chain and region resolution, bounded timeouts. */
export const defaultClients: ClientFactory = (connection) => {
  const config = clientConfig(connection)
  return { ec2: new EC2Client(config), ssm: new SSMClient(config), iam: new IAMClient(config) }
}

const describe = (cause: unknown) => (cause as Error)?.message ?? String(cause)

/** What a missing region is, and where to set one (`how`: the option as the user writes it). */
export const noRegionMessage = (cause: unknown, how: string = 'aws({ region: "us-east-1" }) (CLI: --region)'): string =>
  `no AWS region: ${describe(cause)}. Pass ${how}, or set AWS_REGION, or a region in the profile of ~/.aws/config`

/** What missing credentials are, and how to provide them. */
export const noCredentialsMessage = (cause: unknown): string =>
  `no AWS credentials: ${describe(cause)}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
  `or AWS_PROFILE (aws configure / aws sso login), or run where an instance or container role applies`

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
    const { ec2, ssm, iam } = yield* Effect.acquireRelease(
      Effect.try({
        try: () => factory(connection),
        catch: (cause) => new AwsSetupError({ field: "provider", message: `cannot set up the AWS SDK: ${describe(cause)}`, cause })
      }),
      (clients) =>
        Effect.sync(() => {
          clients.ec2.destroy()
          clients.ssm.destroy()
          clients.iam.destroy()
        })
    )
    const region = yield* Effect.tryPromise({
      try: () => ec2.config.region(),
      catch: (cause) =>
        new AwsSetupError({
          field: "provider.region",
          message: noRegionMessage(cause),
          cause
        })
    })
    yield* Effect.tryPromise({
      try: () => ec2.config.credentials(),
      catch: (cause) =>
        new AwsSetupError({
          field: "provider.credentials",
          message: noCredentialsMessage(cause),
          cause
        })
    })
    return { ec2, ssm, iam, region }
  })
