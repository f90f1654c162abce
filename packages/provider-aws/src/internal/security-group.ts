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
import { isCidr, type AddressKind } from "./options.js"
import { tagSpec } from "./tags.js"

/** Where the pool's instances go. */
export interface Network {
  readonly vpcId: string
  /** The VPC's primary IPv4 CIDR; undefined when EC2 reports none (then `sshCidr` must be given for private addressing). */
  readonly vpcCidr: string | undefined
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
    // no fallback here: a missing CIDR must never widen who reaches port 22 (see defaultSshCidr)
    const vpcCidr = vpc.CidrBlock !== undefined && isCidr(vpc.CidrBlock) ? vpc.CidrBlock : undefined
    return { vpcId: vpc.VpcId, vpcCidr, subnetId }
  })

/** The URL that tells this machine's public address. */
export const CHECKIP_URL = "https://checkip.amazonaws.com"

/**
 * This machine's public IPv4 address as `a.b.c.d/32`, asked of `checkIpUrl` (an HTTP endpoint
 * answering with the bare address, as checkip.amazonaws.com does). Any other answer, or no answer
 * within 10 s, is an `AwsSetupError` on `provider.sshCidr` that says to pass `sshCidr`.
 */
export const publicAddressCidr = (checkIpUrl: string = CHECKIP_URL): Effect.Effect<string, AwsSetupError> =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(checkIpUrl, { signal: AbortSignal.timeout(10_000) })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      const text = (await response.text()).trim()
      if (!isCidr(`${text}/32`)) throw new Error(`unexpected answer ${JSON.stringify(text.slice(0, 40))}`)
      return `${text}/32`
    },
    catch: (cause) =>
      new AwsSetupError({
        field: "provider.sshCidr",
        message: `cannot find this machine's public address (${checkIpUrl}: ${(cause as Error).message}); pass sshCidr: "<your address>/32"`,
        cause
      })
  })

/**
 * Who may reach port 22 when `sshCidr` is not given. Never 0.0.0.0/0, and never wider than the
 * facts allow:
 *
 * - `address: "public"`: this machine's public address as a /32 (asked of `checkIpUrl`).
 * - `address: "private"`: the VPC's IPv4 CIDR. The client's own address as the instances see it
 *   cannot be found reliably from the client (a VPN or Transit Gateway may translate it, and the
 *   group exists before any instance to route towards), so the VPC's range is the default; a
 *   client that reaches the VPC from outside its range (peering, a routed VPN) passes `sshCidr`.
 *   A VPC without an IPv4 CIDR is an `AwsSetupError` asking for `sshCidr`.
 */
export const defaultSshCidr = (address: AddressKind, network: Network, checkIpUrl: string = CHECKIP_URL): Effect.Effect<string, AwsSetupError> => {
  if (address === "public") return publicAddressCidr(checkIpUrl)
  const cidr = network.vpcCidr
  return cidr === undefined
    ? Effect.fail(
        new AwsSetupError({
          field: "provider.sshCidr",
          message:
            `address: "private" opens port 22 to the VPC's IPv4 CIDR unless sshCidr is given, but EC2 reports no IPv4 CIDR for ${network.vpcId}: ` +
            `pass sshCidr: "<address>/32" (the address this machine connects to the instances from)`
        })
      )
    : Effect.succeed(cidr)
}

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
