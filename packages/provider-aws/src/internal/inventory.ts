import { DescribeKeyPairsCommand, DescribeSecurityGroupsCommand, type EC2Client } from "@aws-sdk/client-ec2"
import { ListInstanceProfilesCommand, ListRolesCommand, type IAMClient } from "@aws-sdk/client-iam"
import { Effect } from "effect"
import { acquireClients, defaultClients, type ClientFactory } from "./credentials.js"
import { toCallError, type AwsCallError, type AwsSetupError } from "./errors.js"
import { deleteInstanceProfile, deleteRole, iamPath } from "./instance-profile.js"
import { deleteKeyPair } from "./key-pair.js"
import { describeInstances, terminateInstances } from "./instances.js"
import { MANAGED_TAG, POOL_TAG, type AwsConnection } from "./options.js"
import { deleteSecurityGroup } from "./security-group.js"
import { tagValue } from "./tags.js"

/** One Skyward-tagged resource left in a region. */
export interface ManagedResource {
  /** `instance-profile` and `iam-role`: a pool's own (`instanceProfile: "pool"`), global to the account. */
  readonly kind: "instance" | "security-group" | "key-pair" | "instance-profile" | "iam-role"
  /** Instance id, group id, key pair name, or IAM name. */
  readonly id: string
  /** The `skyward:pool` tag ("?" when missing); for IAM, from the name `skyward-<pool>`. */
  readonly pool: string
  /** Instance state; "-" for the others. */
  readonly state: string
  /** Instance type, group name, key pair id, or IAM ARN. */
  readonly detail: string
  /** Launch or creation time, when EC2 tells. */
  readonly created: Date | undefined
}

const managedFilter = [{ Name: `tag:${MANAGED_TAG}`, Values: ["true"] }]

const poolOfIamName = (name: string) => (name.startsWith("skyward-") ? name.slice("skyward-".length) : "?")

/**
 * The instance profiles and roles pools of `region` made (`instanceProfile: "pool"`), under the
 * IAM path `/skyward/<region>/`. An identity that may not list IAM sees none.
 */
export const listPoolIam = (iam: IAMClient, region: string): Effect.Effect<ManagedResource[], AwsCallError> =>
  Effect.gen(function* () {
    const found: ManagedResource[] = []
    let marker: string | undefined
    do {
      const out = yield* Effect.tryPromise({
        try: () => iam.send(new ListInstanceProfilesCommand({ PathPrefix: iamPath(region), ...(marker === undefined ? {} : { Marker: marker }) })),
        catch: toCallError("ListInstanceProfiles")
      })
      for (const p of out.InstanceProfiles ?? [])
        found.push({ kind: "instance-profile", id: p.InstanceProfileName!, pool: poolOfIamName(p.InstanceProfileName!), state: "-", detail: p.Arn ?? "", created: p.CreateDate })
      marker = out.IsTruncated ? out.Marker : undefined
    } while (marker)
    do {
      const out = yield* Effect.tryPromise({
        try: () => iam.send(new ListRolesCommand({ PathPrefix: iamPath(region), ...(marker === undefined ? {} : { Marker: marker }) })),
        catch: toCallError("ListRoles")
      })
      for (const r of out.Roles ?? []) found.push({ kind: "iam-role", id: r.RoleName!, pool: poolOfIamName(r.RoleName!), state: "-", detail: r.Arn ?? "", created: r.CreateDate })
      marker = out.IsTruncated ? out.Marker : undefined
    } while (marker)
    return found
  }).pipe(Effect.catchIf((e) => e.code === "AccessDenied" || e.code === "AccessDeniedException", () => Effect.succeed([])))

/**
 * Skyward-tagged (`skyward:managed=true`) instances (not terminated), security groups and key
 * pairs; with `iam`, also the instance profiles and roles of the region's pools (`listPoolIam`).
 */
export const listManaged = (ec2: EC2Client, iam?: { readonly client: IAMClient; readonly region: string }): Effect.Effect<ManagedResource[], AwsCallError> =>
  Effect.gen(function* () {
    const instances = yield* describeInstances(ec2, {
      Filters: [...managedFilter, { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped", "shutting-down"] }]
    })
    const groups: ManagedResource[] = []
    let token: string | undefined
    do {
      const out = yield* Effect.tryPromise({
        try: () => ec2.send(new DescribeSecurityGroupsCommand({ Filters: managedFilter, ...(token === undefined ? {} : { NextToken: token }) })),
        catch: toCallError("DescribeSecurityGroups")
      })
      for (const g of out.SecurityGroups ?? [])
        groups.push({ kind: "security-group", id: g.GroupId!, pool: tagValue(g.Tags, POOL_TAG) ?? "?", state: "-", detail: g.GroupName ?? "", created: undefined })
      token = out.NextToken
    } while (token)
    const keys = yield* Effect.tryPromise({ try: () => ec2.send(new DescribeKeyPairsCommand({ Filters: managedFilter })), catch: toCallError("DescribeKeyPairs") })
    return [
      ...instances.map(
        (i): ManagedResource => ({
          kind: "instance",
          id: i.InstanceId!,
          pool: tagValue(i.Tags, POOL_TAG) ?? "?",
          state: i.State?.Name ?? "?",
          detail: `${i.InstanceType ?? "?"}${i.InstanceLifecycle === "spot" ? " spot" : ""} ${i.PublicIpAddress ?? i.PrivateIpAddress ?? ""}`.trim(),
          created: i.LaunchTime
        })
      ),
      ...groups,
      ...(keys.KeyPairs ?? []).map(
        (k): ManagedResource => ({
          kind: "key-pair",
          id: k.KeyName!,
          pool: tagValue(k.Tags, POOL_TAG) ?? "?",
          state: "-",
          detail: k.KeyPairId ?? "",
          created: k.CreateTime
        })
      ),
      ...(iam === undefined ? [] : yield* listPoolIam(iam.client, iam.region))
    ]
  })

/** What `removeManaged` did. */
export interface Removal {
  readonly removed: ReadonlyArray<ManagedResource>
  readonly failed: ReadonlyArray<{ readonly resource: ManagedResource; readonly message: string }>
}

/**
 * Removes the given Skyward resources in dependency order: terminates the instances and waits
 * (bounded) until they are gone, then deletes the instance profiles and roles (with `iam`), the
 * security groups, then the key pairs.
 */
export const removeManaged = (
  ec2: EC2Client,
  resources: ReadonlyArray<ManagedResource>,
  options: { readonly pollMs?: number; readonly patienceMs?: number; readonly iam?: IAMClient } = {}
): Effect.Effect<Removal> =>
  Effect.gen(function* () {
    const removed: ManagedResource[] = []
    const failed: Array<{ resource: ManagedResource; message: string }> = []
    const instances = resources.filter((r) => r.kind === "instance")
    const ids = instances.map((r) => r.id)
    const terminated = yield* terminateInstances(ec2, ids).pipe(Effect.either)
    if (terminated._tag === "Left") for (const r of instances) failed.push({ resource: r, message: terminated.left.message })
    else {
      const until = Date.now() + (options.patienceMs ?? 5 * 60_000)
      for (;;) {
        const live = ids.length === 0 ? [] : yield* describeInstances(ec2, { InstanceIds: ids }).pipe(Effect.orElseSucceed(() => []))
        const pending = new Set(live.filter((i) => i.State?.Name !== "terminated").map((i) => i.InstanceId))
        if (pending.size === 0 || Date.now() > until) {
          for (const r of instances) {
            if (pending.has(r.id)) failed.push({ resource: r, message: "still terminating" })
            else removed.push(r)
          }
          break
        }
        yield* Effect.sleep(options.pollMs ?? 3_000)
      }
    }
    const { iam } = options
    for (const kind of ["instance-profile", "iam-role"] as const)
      for (const r of resources.filter((r) => r.kind === kind)) {
        if (iam === undefined) {
          failed.push({ resource: r, message: "no IAM client" })
          continue
        }
        const result = yield* (kind === "instance-profile" ? deleteInstanceProfile(iam, r.id) : deleteRole(iam, r.id)).pipe(Effect.either)
        if (result._tag === "Right") removed.push(r)
        else failed.push({ resource: r, message: result.left.message })
      }
    for (const r of resources.filter((r) => r.kind === "security-group")) {
      const result = yield* deleteSecurityGroup(ec2, r.id, options.patienceMs ?? "5 minutes").pipe(Effect.either)
      if (result._tag === "Right") removed.push(r)
      else failed.push({ resource: r, message: result.left.message })
    }
    for (const r of resources.filter((r) => r.kind === "key-pair")) {
      const result = yield* deleteKeyPair(ec2, r.id).pipe(Effect.either)
      if (result._tag === "Right") removed.push(r)
      else failed.push({ resource: r, message: result.left.message })
    }
    return { removed, failed }
  })

/** `skyward ls`: the Skyward resources of a region (credentials and region from the SDK's chain). */
export const listResources = (connection: AwsConnection = {}, clients: ClientFactory = defaultClients): Effect.Effect<ManagedResource[], AwsSetupError | AwsCallError> =>
  Effect.scoped(Effect.flatMap(acquireClients(connection, clients), ({ ec2, iam, region }) => listManaged(ec2, { client: iam, region })))

/** `skyward down`: removes the Skyward resources of one pool, or all of them (`pool: "all"`). */
export const removeResources = (
  connection: AwsConnection,
  pool: string | "all",
  clients: ClientFactory = defaultClients
): Effect.Effect<Removal & { readonly region: string }, AwsSetupError | AwsCallError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { ec2, iam, region } = yield* acquireClients(connection, clients)
      const all = yield* listManaged(ec2, { client: iam, region })
      const chosen = pool === "all" ? all : all.filter((r) => r.pool === pool)
      return { ...(yield* removeManaged(ec2, chosen, { iam })), region }
    })
  )
