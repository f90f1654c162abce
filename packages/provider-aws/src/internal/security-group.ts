import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type Tag
} from "@aws-sdk/client-ec2"
import { Duration, Effect, Schedule, type Scope } from "effect"
import { AwsSetupError, toCallError, warnOnFailure, type AwsCallError } from "./errors.js"
import type { AddressKind } from "./options.js"
import { tagSpec } from "./tags.js"

/** Where the pool's instances go. */
export interface Network {
  readonly vpcId: string
  readonly vpcCidr: string
  /** Undefined: EC2 picks a default subnet of the default VPC. */
  readonly subnetId: string | undefined
}

/** The VPC of `subnetId`, or the region's default VPC. */
export const resolveNetwork = (ec2: EC2Client, subnetId: string | undefined): Effect.Effect<Network, AwsSetupError | AwsCallError> =>
  Effect.gen(function* () {
    let vpcId: string | undefined
    if (subnetId !== undefined) {
      const out = yield* Effect.tryPromise({ try: () => ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] })), catch: toCallError("DescribeSubnets") }).pipe(
        Effect.catchIf((e) => e.code.startsWith("InvalidSubnetID"), () => Effect.succeed({ Subnets: [] }))
      )
      vpcId = out.Subnets?.[0]?.VpcId
      if (vpcId === undefined) return yield* new AwsSetupError({ field: "provider.subnetId", message: `subnetId: ${subnetId} does not exist in this region` })
    }
    const vpcs = yield* Effect.tryPromise({
      try: () =>
        ec2.send(new DescribeVpcsCommand(vpcId === undefined ? { Filters: [{ Name: "is-default", Values: ["true"] }] } : { VpcIds: [vpcId] })),
      catch: toCallError("DescribeVpcs")
    })
    const vpc = vpcs.Vpcs?.[0]
    if (vpc?.VpcId === undefined)
      return yield* new AwsSetupError({ field: "provider.subnetId", message: "this region has no default VPC: pass subnetId (a subnet the instances may use)" })
    return { vpcId: vpc.VpcId, vpcCidr: vpc.CidrBlock ?? "0.0.0.0/0", subnetId }
  })

/** The URL that tells this machine's public address. */
export const CHECKIP_URL = "https://checkip.amazonaws.com"

/**
 * Who may reach port 22 when `sshCidr` is not given: this machine's public address (/32) for
 * public addressing, the VPC's CIDR for private addressing. Never 0.0.0.0/0 by default.
 */
export const defaultSshCidr = (address: AddressKind, network: Network): Effect.Effect<string, AwsSetupError> =>
  address === "private"
    ? Effect.succeed(network.vpcCidr)
    : Effect.tryPromise({
        try: async () => {
          const response = await fetch(CHECKIP_URL, { signal: AbortSignal.timeout(10_000) })
          const text = (await response.text()).trim()
          if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) throw new Error(`unexpected answer ${JSON.stringify(text.slice(0, 40))}`)
          return `${text}/32`
        },
        catch: (cause) =>
          new AwsSetupError({
            field: "provider.sshCidr",
            message: `cannot find this machine's public address (${CHECKIP_URL}: ${(cause as Error).message}); pass sshCidr: "<your address>/32"`,
            cause
          })
      })

/**
 * The pool's security group in `vpcId`: inbound TCP 22 from `cidr` only (outbound stays open).
 * Deleted when the scope closes, retrying while terminating instances still hold it.
 */
export const poolSecurityGroup = (
  ec2: EC2Client,
  poolId: string,
  vpcId: string,
  cidr: string,
  tags: Tag[]
): Effect.Effect<string, AwsCallError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const created = yield* Effect.tryPromise({
        try: () =>
          ec2.send(
            new CreateSecurityGroupCommand({
              GroupName: `skyward-${poolId}`,
              Description: `Skyward pool ${poolId}: SSH from ${cidr}`,
              VpcId: vpcId,
              TagSpecifications: [tagSpec("security-group", tags)]
            })
          ),
        catch: toCallError("CreateSecurityGroup")
      })
      const groupId = created.GroupId!
      // the group exists from here on: a failed rule must still delete it
      yield* Effect.tryPromise({
        try: () =>
          ec2.send(
            new AuthorizeSecurityGroupIngressCommand({
              GroupId: groupId,
              IpPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: cidr, Description: "Skyward SSH" }] }]
            })
          ),
        catch: toCallError("AuthorizeSecurityGroupIngress")
      }).pipe(Effect.tapError(() => deleteSecurityGroup(ec2, groupId).pipe(Effect.ignore)))
      return groupId
    }),
    (groupId) => deleteSecurityGroup(ec2, groupId).pipe(warnOnFailure(`security group ${groupId}`, poolId))
  )

/**
 * Deletes a security group; retries `DependencyViolation` (instances still terminating) for up
 * to `patience`. Already gone counts as done.
 */
export const deleteSecurityGroup = (ec2: EC2Client, groupId: string, patience: Duration.DurationInput = "5 minutes"): Effect.Effect<void, AwsCallError> =>
  Effect.tryPromise({ try: () => ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId })), catch: toCallError("DeleteSecurityGroup") }).pipe(
    Effect.retry({
      while: (e) => e.code === "DependencyViolation",
      schedule: Schedule.exponential("1 second", 1.5).pipe(Schedule.either(Schedule.spaced("10 seconds")), Schedule.upTo(patience))
    }),
    Effect.catchIf((e) => e.code === "InvalidGroup.NotFound", () => Effect.void),
    Effect.asVoid
  )
