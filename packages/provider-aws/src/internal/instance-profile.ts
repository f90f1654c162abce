import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  type IAMClient,
  type Tag
} from "@aws-sdk/client-iam"
import { s3Location, type Volume } from "@skyward/contracts"
import { Effect, type Scope } from "effect"
import { toCallError, warnOnFailure, type AwsCallError } from "./errors.js"

/**
 * The IAM path of the roles and instance profiles pools of `region` make: IAM is global, the path
 * keeps `skyward ls` / `skyward down` of a region to that region's pools.
 */
export const iamPath = (region: string): string => `/skyward/${region}/`
/** The name of the pool's inline policy. */
export const VOLUMES_POLICY = "skyward-volumes"

/** How instances get a role: an existing instance profile (name or ARN), or one made for the pool. */
export type InstanceProfileChoice = { readonly _tag: "Existing"; readonly nameOrArn: string } | { readonly _tag: "Pool"; readonly volumes: ReadonlyArray<Volume> }

/** The partition of a region's ARNs. */
export const partitionOf = (region: string): string => (region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws")

/** Who may assume the pool's role: EC2 instances. */
export const EC2_TRUST_POLICY = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }]
}

/**
 * The pool's policy: for each S3 volume, `s3:ListBucket` on its bucket under its prefix, and
 * `s3:GetObject` (and `s3:PutObject` when writable) on the objects under it. Undefined without one.
 */
export const volumesPolicy = (volumes: ReadonlyArray<Volume>, region: string): object | undefined => {
  const partition = partitionOf(region)
  const statements = volumes.flatMap((volume) => {
    const location = s3Location(volume.source)
    if (location === undefined) return []
    const { bucket, prefix } = location
    return [
      {
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: `arn:${partition}:s3:::${bucket}`,
        ...(prefix === "" ? {} : { Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } } })
      },
      { Effect: "Allow", Action: volume.writable ? ["s3:GetObject", "s3:PutObject"] : ["s3:GetObject"], Resource: `arn:${partition}:s3:::${bucket}/${prefix}*` }
    ]
  })
  return statements.length === 0 ? undefined : { Version: "2012-10-17", Statement: statements }
}

const ignoreMissing = <A>(effect: Effect.Effect<A, AwsCallError>): Effect.Effect<void, AwsCallError> =>
  effect.pipe(
    Effect.asVoid,
    Effect.catchIf((e) => e.code === "NoSuchEntity" || e.code === "NoSuchEntityException", () => Effect.void)
  )

/** Removes a role from an instance profile and deletes the profile (already gone counts as done). */
export const deleteInstanceProfile = (iam: IAMClient, name: string): Effect.Effect<void, AwsCallError> =>
  Effect.gen(function* () {
    const profile = yield* Effect.tryPromise({ try: () => iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name })), catch: toCallError("GetInstanceProfile") }).pipe(
      Effect.map((out) => out.InstanceProfile),
      Effect.catchIf((e) => e.code === "NoSuchEntity" || e.code === "NoSuchEntityException", () => Effect.succeed(undefined))
    )
    if (profile === undefined) return
    for (const role of profile.Roles ?? [])
      yield* ignoreMissing(
        Effect.tryPromise({
          try: () => iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: name, RoleName: role.RoleName! })),
          catch: toCallError("RemoveRoleFromInstanceProfile")
        })
      )
    yield* ignoreMissing(Effect.tryPromise({ try: () => iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: name })), catch: toCallError("DeleteInstanceProfile") }))
  })

/** Deletes a role's inline policies, then the role (already gone counts as done). */
export const deleteRole = (iam: IAMClient, name: string): Effect.Effect<void, AwsCallError> =>
  Effect.gen(function* () {
    const policies = yield* Effect.tryPromise({ try: () => iam.send(new ListRolePoliciesCommand({ RoleName: name })), catch: toCallError("ListRolePolicies") }).pipe(
      Effect.map((out) => out.PolicyNames ?? []),
      Effect.catchIf((e) => e.code === "NoSuchEntity" || e.code === "NoSuchEntityException", () => Effect.succeed(undefined))
    )
    if (policies === undefined) return
    for (const policy of policies)
      yield* ignoreMissing(Effect.tryPromise({ try: () => iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policy })), catch: toCallError("DeleteRolePolicy") }))
    yield* ignoreMissing(Effect.tryPromise({ try: () => iam.send(new DeleteRoleCommand({ RoleName: name })), catch: toCallError("DeleteRole") }))
  })

/**
 * The pool's instance profile `skyward-<pool>` (path `/skyward/<region>/`): a role of the same name that EC2
 * may assume, with an inline policy reading (writing, when writable) the S3 volumes. Each part is
 * undone, in reverse order, when the scope closes, also after a partial creation. Returns the
 * profile's name. `volumes` must hold an S3 volume (the provider refuses "pool" before, otherwise).
 */
export const poolInstanceProfile = (
  iam: IAMClient,
  poolId: string,
  region: string,
  volumes: ReadonlyArray<Volume>,
  tags: ReadonlyArray<Tag>
): Effect.Effect<string, AwsCallError, Scope.Scope> =>
  Effect.gen(function* () {
    const name = `skyward-${poolId}`
    const policy = volumesPolicy(volumes, region)
    if (policy === undefined) return yield* toCallError("PutRolePolicy")(new Error("the pool has no s3:// volume for its instance profile to read"))
    const warn = (what: string) => warnOnFailure(what, poolId)
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          iam.send(
            new CreateRoleCommand({
              RoleName: name,
              Path: iamPath(region),
              AssumeRolePolicyDocument: JSON.stringify(EC2_TRUST_POLICY),
              Description: `Skyward pool ${poolId}: reads its S3 volumes`,
              MaxSessionDuration: 12 * 3600,
              Tags: [...tags]
            })
          ),
        catch: toCallError("CreateRole")
      }),
      () => deleteRole(iam, name).pipe(warn(`IAM role ${name}`))
    )
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: VOLUMES_POLICY, PolicyDocument: JSON.stringify(policy) })),
        catch: toCallError("PutRolePolicy")
      }),
      () =>
        ignoreMissing(
          Effect.tryPromise({ try: () => iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: VOLUMES_POLICY })), catch: toCallError("DeleteRolePolicy") })
        ).pipe(warn(`the policy of IAM role ${name}`))
    )
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: name, Path: iamPath(region), Tags: [...tags] })),
        catch: toCallError("CreateInstanceProfile")
      }),
      () =>
        ignoreMissing(
          Effect.tryPromise({ try: () => iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: name })), catch: toCallError("DeleteInstanceProfile") })
        ).pipe(warn(`instance profile ${name}`))
    )
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name })),
        catch: toCallError("AddRoleToInstanceProfile")
      }),
      () =>
        ignoreMissing(
          Effect.tryPromise({
            try: () => iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: name, RoleName: name })),
            catch: toCallError("RemoveRoleFromInstanceProfile")
          })
        ).pipe(warn(`the role of instance profile ${name}`))
    )
    return name
  })

/** Whether a RunInstances error is about the instance profile (unknown, or not yet visible to EC2). */
export const isInstanceProfileError = (e: AwsCallError): boolean =>
  (e.code === "InvalidParameterValue" && /iamInstanceProfile|IAM Instance Profile/i.test(e.message)) || e.code === "NoSuchEntity"
