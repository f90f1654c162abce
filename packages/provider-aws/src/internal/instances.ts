import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
  type RunInstancesCommandInput,
  type Tag
} from "@aws-sdk/client-ec2"
import { Effect, Schedule, type Scope } from "effect"
import { AwsCallError, SPOT_FALLBACK_CODES, toCallError, warnOnFailure } from "./errors.js"
import { isInstanceProfileError } from "./instance-profile.js"
import type { AddressKind, Allocation } from "./options.js"
import { POOL_TAG } from "./options.js"
import { tagSpec } from "./tags.js"

/** What one instance is launched with. */
export interface LaunchSpec {
  readonly poolId: string
  readonly index: number
  readonly ami: string
  readonly instanceType: string
  readonly keyName: string
  readonly securityGroupIds: ReadonlyArray<string>
  readonly subnetId: string | undefined
  readonly address: AddressKind
  readonly userData: string
  readonly allocation: Allocation
  readonly tags: Tag[]
  /**
   * The instance profile to attach (a name, or an ARN), and whether the pool just made it (then
   * RunInstances is retried, bounded, while EC2 does not see it yet: IAM is eventually consistent).
   */
  readonly instanceProfile?: { readonly nameOrArn: string; readonly made: boolean }
}

/** How long a launch waits for a just-made instance profile to be visible to EC2. */
export const PROFILE_PATIENCE = "60 seconds"

/** A launched instance. */
export interface Launched {
  readonly index: number
  readonly instanceId: string
  readonly lifecycle: "spot" | "on-demand"
  /** Why spot was not used, when `spot-if-available` fell back to on-demand. */
  readonly fallbackReason?: string
}

const runParams = (spec: LaunchSpec, market: "spot" | "on-demand", attempt: number): RunInstancesCommandInput => ({
  ImageId: spec.ami,
  InstanceType: spec.instanceType as RunInstancesCommandInput["InstanceType"],
  MinCount: 1,
  MaxCount: 1,
  KeyName: spec.keyName,
  UserData: Buffer.from(spec.userData).toString("base64"),
  InstanceInitiatedShutdownBehavior: "terminate",
  MetadataOptions: { HttpTokens: "required" },
  // a new token for each of our own retries (an earlier attempt failed and launched nothing)
  ClientToken: `${spec.poolId}-${spec.index}-${market}${attempt === 0 ? "" : `-r${attempt}`}`,
  ...(spec.instanceProfile === undefined
    ? {}
    : { IamInstanceProfile: spec.instanceProfile.nameOrArn.startsWith("arn:") ? { Arn: spec.instanceProfile.nameOrArn } : { Name: spec.instanceProfile.nameOrArn } }),
  ...(spec.address === "public"
    ? {
        NetworkInterfaces: [
          {
            DeviceIndex: 0,
            AssociatePublicIpAddress: true,
            Groups: [...spec.securityGroupIds],
            ...(spec.subnetId === undefined ? {} : { SubnetId: spec.subnetId })
          }
        ]
      }
    : { SecurityGroupIds: [...spec.securityGroupIds], ...(spec.subnetId === undefined ? {} : { SubnetId: spec.subnetId }) }),
  ...(market === "spot"
    ? { InstanceMarketOptions: { MarketType: "spot", SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate" } } }
    : {}),
  TagSpecifications: [
    tagSpec("instance", [...spec.tags, { Key: "skyward:node", Value: String(spec.index) }]),
    tagSpec("volume", spec.tags)
  ]
})

/** A RunInstances error about a given instance profile, said in terms of the option. */
const profileError = (spec: LaunchSpec, e: AwsCallError): AwsCallError => {
  const profile = spec.instanceProfile
  if (profile === undefined) return e
  if (isInstanceProfileError(e))
    return new AwsCallError({
      ...e,
      message: profile.made
        ? `provider.instanceProfile: EC2 did not see the pool's instance profile ${profile.nameOrArn} within ${PROFILE_PATIENCE} (${e.message})`
        : `provider.instanceProfile: no instance profile ${JSON.stringify(profile.nameOrArn)} in this account (${e.message}): ` +
          `give the name of an existing instance profile, or "pool" to have one made for the pool's S3 volumes`
    })
  if (/iam:PassRole/.test(e.message))
    return new AwsCallError({
      ...e,
      message: `provider.instanceProfile: your AWS identity may not pass the role of instance profile ${profile.nameOrArn} to EC2 (iam:PassRole): ${e.message}`
    })
  return e
}

const run = (ec2: EC2Client, spec: LaunchSpec, market: "spot" | "on-demand") => {
  let attempt = 0
  return Effect.suspend(() =>
    Effect.tryPromise({ try: () => ec2.send(new RunInstancesCommand(runParams(spec, market, attempt++))), catch: toCallError("RunInstances") })
  ).pipe(
    // a profile the pool just made may not be visible to EC2 yet (IAM is eventually consistent)
    Effect.retry({
      while: (e) => spec.instanceProfile?.made === true && isInstanceProfileError(e),
      schedule: Schedule.exponential("1 second", 1.5).pipe(Schedule.either(Schedule.spaced("5 seconds")), Schedule.upTo(PROFILE_PATIENCE))
    }),
    Effect.mapError((e) => profileError(spec, e)),
    Effect.map((out) => out.Instances?.[0]?.InstanceId),
    Effect.flatMap((id) =>
      id === undefined ? Effect.fail(toCallError("RunInstances")(new Error("EC2 returned no instance"))) : Effect.succeed(id)
    )
  )
}

/**
 * Launches one instance (spot, on-demand, or spot with an on-demand fallback on capacity and
 * price errors); it is terminated when the scope closes.
 */
export const launchInstance = (ec2: EC2Client, spec: LaunchSpec): Effect.Effect<Launched, AwsCallError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      if (spec.allocation === "on-demand") return { index: spec.index, instanceId: yield* run(ec2, spec, "on-demand"), lifecycle: "on-demand" as const }
      const spot = yield* run(ec2, spec, "spot").pipe(Effect.either)
      if (spot._tag === "Right") return { index: spec.index, instanceId: spot.right, lifecycle: "spot" as const }
      if (spec.allocation === "spot" || !SPOT_FALLBACK_CODES.has(spot.left.code)) return yield* spot.left
      const instanceId = yield* run(ec2, spec, "on-demand")
      return { index: spec.index, instanceId, lifecycle: "on-demand" as const, fallbackReason: spot.left.message }
    }),
    (launched) => terminateInstances(ec2, [launched.instanceId]).pipe(warnOnFailure(`instance ${launched.instanceId}`, spec.poolId))
  )

/** Terminates instances (already gone counts as done). */
export const terminateInstances = (ec2: EC2Client, ids: ReadonlyArray<string>): Effect.Effect<void, AwsCallError> =>
  ids.length === 0
    ? Effect.void
    : Effect.tryPromise({ try: () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [...ids] })), catch: toCallError("TerminateInstances") }).pipe(
        Effect.catchIf(
          (e) => e.code === "InvalidInstanceID.NotFound" && ids.length > 1,
          () => Effect.forEach(ids, (id) => terminateInstances(ec2, [id]), { discard: true })
        ),
        Effect.catchIf((e) => e.code === "InvalidInstanceID.NotFound", () => Effect.void),
        Effect.asVoid
      )

/** Instances matching EC2 filters, every page. */
export const describeInstances = (
  ec2: EC2Client,
  input: { readonly InstanceIds?: string[]; readonly Filters?: Array<{ Name: string; Values: string[] }> }
): Effect.Effect<Instance[], AwsCallError> =>
  Effect.gen(function* () {
    const all: Instance[] = []
    let token: string | undefined
    do {
      const out = yield* Effect.tryPromise({
        try: () => ec2.send(new DescribeInstancesCommand({ ...input, ...(token === undefined ? {} : { NextToken: token }) })),
        catch: toCallError("DescribeInstances")
      })
      for (const reservation of out.Reservations ?? []) all.push(...(reservation.Instances ?? []))
      token = out.NextToken
    } while (token)
    return all
  })

/** Live (not terminated) instances carrying `skyward:pool=<poolId>`. */
export const poolInstances = (ec2: EC2Client, poolId: string): Effect.Effect<Instance[], AwsCallError> =>
  describeInstances(ec2, {
    Filters: [
      { Name: `tag:${POOL_TAG}`, Values: [poolId] },
      { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped", "shutting-down"] }
    ]
  })

/**
 * A guard for the pool's instances, acquired before any is launched: when the scope closes it
 * terminates any instance still tagged with the pool (one whose launch answer was lost, say)
 * and waits, bounded, until all are terminated, so the security group can go next.
 */
export const instanceSweeper = (ec2: EC2Client, poolId: string, pollMs: number, patienceMs: number): Effect.Effect<void, never, Scope.Scope> =>
  Effect.addFinalizer(() =>
    Effect.gen(function* () {
      const until = Date.now() + patienceMs
      for (;;) {
        const live = yield* poolInstances(ec2, poolId)
        const toTerminate = live.filter((i) => i.State?.Name !== "shutting-down").map((i) => i.InstanceId!)
        yield* terminateInstances(ec2, toTerminate)
        if (live.length === 0) return
        if (Date.now() > until)
          return yield* Effect.logWarning(
            `skyward: instances of pool ${poolId} still terminating after ${Math.round(patienceMs / 1000)}s (${live.map((i) => i.InstanceId).join(", ")}); check with: skyward ls`
          )
        yield* Effect.sleep(pollMs)
      }
    }).pipe(warnOnFailure("the instances", poolId))
  )
