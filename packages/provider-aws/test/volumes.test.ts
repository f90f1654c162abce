import http from "node:http"
import type { AddressInfo } from "node:net"
import { DescribeInstancesCommand, type EC2Client } from "@aws-sdk/client-ec2"
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient
} from "@aws-sdk/client-iam"
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import type { NodeInfo, Volume } from "@skyward/contracts"
import { Cause, Effect, Exit, Fiber, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { listResources, removeResources, s3VolumeAccess } from "../src/index.js"
import { defaultClients, type ClientFactory } from "../src/internal/credentials.js"
import { EC2_TRUST_POLICY, poolInstanceProfile, volumesPolicy } from "../src/internal/instance-profile.js"
import { checkOptions } from "../src/internal/options.js"
import { leftInMoto, live, NOTHING } from "./support/inspect.js"
import { motoUnavailable, startMoto, type Moto } from "./support/moto.js"
import { motoAmi, offline, poolId, provisioned } from "./support/pool.js"

const noMoto = motoUnavailable()

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
  return failure?._tag === "Some" ? (failure.value as { _tag: string; field?: string; message: string }) : undefined
}

const volume = (source: string, path = "/data", writable = false): Volume => ({ source, path, writable })
const node = (data: Record<string, unknown> = {}): NodeInfo => ({ index: 0, address: "10.0.0.1", data })

/** Runs `body` with the AWS credentials of the environment changed as `change` does, then puts them back. */
const withEnv = async <A>(change: (env: NodeJS.ProcessEnv) => void, body: () => Promise<A>): Promise<A> => {
  const saved = { ...process.env }
  try {
    change(process.env)
    return await body()
  } finally {
    process.env = saved
  }
}

/** An S3 endpoint on loopback that denies everything, as S3 answers an identity without s3:ListBucket. */
const denyingS3 = async () => {
  const server = http.createServer((_, response) => {
    response.writeHead(403, { "content-type": "application/xml" })
    response.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>R1</RequestId></Error>')
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

describe("the policy of a pool's instance profile", () => {
  it("lists under each S3 volume's prefix, reads its objects, writes only writable ones; folders have none", () => {
    expect(
      volumesPolicy([volume("s3://bkt1/data/v3"), volume("s3://bkt2", "/out", true), volume("/home/me/data", "/local")], "eu-west-1")
    ).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::bkt1", Condition: { StringLike: { "s3:prefix": ["data/v3*"] } } },
        { Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::bkt1/data/v3*" },
        { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::bkt2" },
        { Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: "arn:aws:s3:::bkt2/*" }
      ]
    })
    expect(volumesPolicy([volume("/home/me/data")], "us-east-1")).toBeUndefined()
    expect(JSON.stringify(volumesPolicy([volume("s3://bkt/p")], "cn-north-1"))).toContain("arn:aws-cn:s3:::bkt")
  })

  it("instanceProfile must be a profile's name or ARN, or \"pool\"", () => {
    expect(checkOptions({ instanceProfile: "pool" })).toBeUndefined()
    expect(checkOptions({ instanceProfile: "my-profile_1" })).toBeUndefined()
    expect(checkOptions({ instanceProfile: "arn:aws:iam::123456789012:instance-profile/team/reader" })).toBeUndefined()
    expect(checkOptions({ instanceProfile: "no spaces" })?.[0]).toBe("instanceProfile")
    expect(checkOptions({ instanceProfile: "" })?.[0]).toBe("instanceProfile")
  })
})

describe.skipIf(noMoto !== undefined)("S3 volumes against moto", () => {
  let moto: Moto
  let s3: S3Client
  let iam: IAMClient
  let ec2: EC2Client
  let ami: string
  const bucket = "skyward-volumes-test"
  const base = () => ({ endpoint: moto.endpoint, region: "us-east-1", ami, sshCidr: "198.51.100.7/32", pollInterval: 0.05, bootTimeout: 5, allocation: "on-demand" as const })
  const instancesOf = async (ids: ReadonlyArray<string>) =>
    ((await ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids] }))).Reservations ?? []).flatMap((r) => r.Instances ?? [])
  const iamGone = async (name: string) => ({
    role: await iam.send(new GetRoleCommand({ RoleName: name })).then(() => "there", (e: Error) => e.name),
    profile: await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name })).then(() => "there", (e: Error) => e.name)
  })

  beforeAll(async () => {
    moto = await startMoto()
    ec2 = moto.ec2
    ami = await motoAmi(ec2)
    s3 = new S3Client({ region: "us-east-1", endpoint: moto.endpoint, forcePathStyle: true })
    iam = new IAMClient({ region: "us-east-1", endpoint: moto.endpoint })
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "data/v1/part-0.csv", Body: "a,b\n1,2\n" }))
  })
  afterAll(async () => {
    s3?.destroy()
    iam?.destroy()
    await moto?.stop()
  })

  it("check passes when something is under every S3 prefix (folders are not its business)", async () => {
    const access = s3VolumeAccess({ endpoint: moto.endpoint, region: "us-east-1" })
    await Effect.runPromise(access.check([volume(`s3://${bucket}/data`), volume(`s3://${bucket}/data/v1/`, "/v1", true), volume("/nowhere/at/all", "/local"), volume(`s3://${bucket}`, "/all")]))
    await Effect.runPromise(access.check([]))
  })

  it("check names the volume and the problem: no such bucket, nothing under the prefix, access denied, no credentials", async () => {
    const access = s3VolumeAccess({ endpoint: moto.endpoint, region: "us-east-1" })
    const errorOf = async (v: Volume, a = access) => failureOf(await Effect.runPromiseExit(a.check([volume(`s3://${bucket}/data`, "/ok"), v])))
    expect(await errorOf(volume("s3://skyward-no-such-bucket/x"))).toEqual(
      expect.objectContaining({
        _tag: "ConfigError",
        field: "volumes",
        message: 'volume /data: no such bucket "skyward-no-such-bucket" (in region us-east-1): check the name and the region'
      })
    )
    expect(await errorOf(volume(`s3://${bucket}/data/v2`))).toEqual(
      expect.objectContaining({ _tag: "ConfigError", field: "volumes", message: `volume /data: nothing under s3://${bucket}/data/v2: check the prefix` })
    )
    const denying = await denyingS3()
    try {
      const denied = s3VolumeAccess({ endpoint: denying.url, region: "us-east-1" })
      expect(failureOf(await Effect.runPromiseExit(denied.check([volume(`s3://${bucket}/data`)])))).toEqual(
        expect.objectContaining({
          _tag: "ConfigError",
          field: "volumes",
          message: `volume /data: access denied to s3://${bucket}/data: your AWS identity needs s3:ListBucket and s3:GetObject on it`
        })
      )
    } finally {
      await denying.close()
    }
    const none = await withEnv(
      (env) => {
        delete env.AWS_ACCESS_KEY_ID
        delete env.AWS_SECRET_ACCESS_KEY
      },
      async () => failureOf(await Effect.runPromiseExit(s3VolumeAccess({ endpoint: moto.endpoint, region: "us-east-1" }).check([volume(`s3://${bucket}/data`)])))
    )
    expect(none).toMatchObject({ _tag: "ConfigError", field: "volumes" })
    expect(none!.message).toMatch(/^S3 volumes: no AWS credentials: .*Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/)
  })

  it("env gives a node the region, the endpoint and short-lived credentials made once, never the client's keys", async () => {
    const access = s3VolumeAccess({ endpoint: moto.endpoint, region: "us-east-1" })
    const first = await Effect.runPromise(access.env(node()))
    expect(first).toMatchObject({ AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: "us-east-1", AWS_ENDPOINT_URL_S3: moto.endpoint })
    expect(first.AWS_ACCESS_KEY_ID).toBeDefined()
    expect(first.AWS_ACCESS_KEY_ID).not.toBe(process.env.AWS_ACCESS_KEY_ID)
    expect(first.AWS_SECRET_ACCESS_KEY).not.toBe(process.env.AWS_SECRET_ACCESS_KEY)
    expect(first.AWS_SESSION_TOKEN!.length).toBeGreaterThan(20)
    // made once: without any credentials now, the same object still hands out the same ones; a new object cannot
    const [again, fresh] = await withEnv(
      (env) => {
        delete env.AWS_ACCESS_KEY_ID
        delete env.AWS_SECRET_ACCESS_KEY
      },
      async () => [
        await Effect.runPromise(access.env({ ...node(), index: 1 })),
        failureOf(await Effect.runPromiseExit(s3VolumeAccess({ endpoint: moto.endpoint, region: "us-east-1" }).env(node())))
      ]
    )
    expect(again).toEqual(first)
    expect(fresh).toMatchObject({ _tag: "ProviderError", message: expect.stringMatching(/^S3 volumes: no AWS credentials/) })
    // a node with an instance profile of its own: its role, no credentials
    expect(await Effect.runPromise(access.env(node({ instanceProfile: "skyward-p1" })))).toEqual({
      AWS_REGION: "us-east-1",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_ENDPOINT_URL_S3: moto.endpoint
    })
    // no endpoint given: none for the node (STS is reached through AWS_ENDPOINT_URL, which the tests set)
    const plain = await Effect.runPromise(s3VolumeAccess({ region: "eu-west-1" }).env(node()))
    expect(plain.AWS_ENDPOINT_URL_S3).toBeUndefined()
    expect(plain.AWS_REGION).toBe("eu-west-1")
    expect(plain.AWS_SESSION_TOKEN).toBeDefined()
  })

  it("env passes the client's own credentials when they are already temporary (GetSessionToken refuses those)", async () => {
    const env = await withEnv(
      (e) => Object.assign(e, { AWS_ACCESS_KEY_ID: "ASIATEMPORARY", AWS_SECRET_ACCESS_KEY: "temporary-secret", AWS_SESSION_TOKEN: "client-session" }),
      () => Effect.runPromise(s3VolumeAccess({ endpoint: moto.endpoint, region: "us-east-1" }).env(node()))
    )
    expect(env).toMatchObject({ AWS_ACCESS_KEY_ID: "ASIATEMPORARY", AWS_SECRET_ACCESS_KEY: "temporary-secret", AWS_SESSION_TOKEN: "client-session" })
  })

  it('instanceProfile "pool": a role, its policy and a profile while the pool is open, on every instance; all gone after', async () => {
    const id = poolId()
    const name = `skyward-${id}`
    const volumes = [volume(`s3://${bucket}/data`), volume(`s3://${bucket}/out`, "/out", true)]
    const seen = await Effect.runPromise(
      provisioned(
        { ...base(), instanceProfile: "pool" },
        offline,
        2,
        (cluster) =>
          Effect.promise(async () => {
            const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!
            const policy = await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: "skyward-volumes" }))
            const profile = (await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }))).InstanceProfile!
            const instances = await instancesOf(cluster.nodes.map((n) => n.data.instanceId as string))
            const listed = await Effect.runPromise(listResources({ endpoint: moto.endpoint, region: "us-east-1" }))
            return { cluster, role, policy, profile, instances, listed }
          }),
        id,
        volumes
      )
    )
    expect(seen.role.Path).toBe("/skyward/us-east-1/")
    expect(JSON.parse(decodeURIComponent(seen.role.AssumeRolePolicyDocument!))).toEqual(EC2_TRUST_POLICY)
    expect(Object.fromEntries((seen.role.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({ "skyward:pool": id, "skyward:managed": "true" })
    const document = seen.policy.PolicyDocument!
    expect(JSON.parse(document.startsWith("%7B") ? decodeURIComponent(document) : document)).toEqual(volumesPolicy(volumes, "us-east-1"))
    expect(seen.profile.Roles?.map((r) => r.RoleName)).toEqual([name])
    expect(seen.instances).toHaveLength(2)
    for (const instance of seen.instances) expect(instance.IamInstanceProfile?.Arn).toBe(seen.profile.Arn)
    for (const n of seen.cluster.nodes) expect(n.data.instanceProfile).toBe(name)
    // skyward ls shows them with the pool
    expect(seen.listed.filter((r) => r.pool === id && (r.kind === "iam-role" || r.kind === "instance-profile")).map((r) => `${r.kind} ${r.id}`).sort()).toEqual([
      `iam-role ${name}`,
      `instance-profile ${name}`
    ])
    expect(await iamGone(name)).toEqual({ role: "NoSuchEntityException", profile: "NoSuchEntityException" })
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
  })

  it('instanceProfile "pool": nothing of IAM is left when the pool fails or is interrupted', async () => {
    const volumes = [volume(`s3://${bucket}/data`)]
    const failed = poolId()
    const exit = await Effect.runPromiseExit(
      provisioned({ ...base(), instanceProfile: "pool", bootTimeout: 0.5 }, { ...offline, probe: () => Effect.fail("ECONNREFUSED") }, 1, () => Effect.void, failed, volumes)
    )
    expect(failureOf(exit)?._tag).toBe("ProviderError")
    expect(await iamGone(`skyward-${failed}`)).toEqual({ role: "NoSuchEntityException", profile: "NoSuchEntityException" })
    expect(live(await leftInMoto(ec2, failed))).toEqual(NOTHING)

    const interrupted = poolId()
    const fiber = Effect.runFork(
      provisioned({ ...base(), instanceProfile: "pool", bootTimeout: 600 }, { ...offline, probe: () => Effect.fail("ECONNREFUSED") }, 1, () => Effect.void, interrupted, volumes)
    )
    const until = Date.now() + 20_000
    while ((await leftInMoto(ec2, interrupted)).instances.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
    expect((await iamGone(`skyward-${interrupted}`)).profile).toBe("there")
    expect(Exit.isInterrupted(await Effect.runPromise(Fiber.interrupt(fiber)))).toBe(true)
    expect(await iamGone(`skyward-${interrupted}`)).toEqual({ role: "NoSuchEntityException", profile: "NoSuchEntityException" })
    expect(live(await leftInMoto(ec2, interrupted))).toEqual(NOTHING)
  })

  it("retries RunInstances while EC2 does not see the pool's new instance profile yet", async () => {
    let refused = 0
    const lagging: ClientFactory = (connection) => {
      const clients = defaultClients(connection)
      clients.ec2.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === "RunInstancesCommand" && refused < 2) {
            refused++
            throw Object.assign(new Error("Value (skyward-x) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"), {
              name: "InvalidParameterValue",
              $fault: "client"
            })
          }
          return next(args)
        },
        { step: "initialize", name: "skywardTestProfileLag" }
      )
      return clients
    }
    const id = poolId()
    const nodes = await Effect.runPromise(
      provisioned({ ...base(), instanceProfile: "pool" }, { ...offline, clients: lagging }, 1, (cluster) => Effect.succeed(cluster.nodes), id, [volume(`s3://${bucket}/data`)])
    )
    expect(refused).toBe(2)
    expect(nodes[0]!.data.instanceProfile).toBe(`skyward-${id}`)
    expect(await iamGone(`skyward-${id}`)).toEqual({ role: "NoSuchEntityException", profile: "NoSuchEntityException" })
  })

  it("attaches a named instance profile and leaves it; an unknown one is an error naming the option", async () => {
    await iam.send(new CreateRoleCommand({ RoleName: "team-reader", AssumeRolePolicyDocument: JSON.stringify(EC2_TRUST_POLICY) }))
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: "team-reader" }))
    await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: "team-reader", RoleName: "team-reader" }))
    const seen = await Effect.runPromise(
      provisioned({ ...base(), instanceProfile: "team-reader" }, offline, 1, (cluster) =>
        Effect.promise(async () => ({ cluster, instances: await instancesOf([cluster.nodes[0]!.data.instanceId as string]) }))
      )
    )
    expect(seen.instances[0]!.IamInstanceProfile?.Arn).toMatch(/:instance-profile\/team-reader$/)
    expect(seen.cluster.nodes[0]!.data.instanceProfile).toBe("team-reader")
    expect(await iamGone("team-reader")).toEqual({ role: "there", profile: "there" })

    const id = poolId()
    const error = failureOf(await Effect.runPromiseExit(provisioned({ ...base(), instanceProfile: "no-such-profile" }, offline, 1, () => Effect.void, id)))
    expect(error?._tag).toBe("ProviderError")
    expect(error!.message).toContain('provider.instanceProfile: no instance profile "no-such-profile" in this account')
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
  })

  it('refuses instanceProfile "pool" without an s3:// volume, before creating anything', async () => {
    const id = poolId()
    for (const volumes of [[], [volume("/srv/data")]]) {
      const error = failureOf(await Effect.runPromiseExit(provisioned({ ...base(), instanceProfile: "pool" }, offline, 1, () => Effect.void, id, volumes)))
      expect(error).toMatchObject({ _tag: "ConfigError", field: "provider.instanceProfile" })
      expect(error!.message).toMatch(/"pool" makes a role that reads the pool's S3 volumes, but the pool has no s3:\/\/ volume/)
    }
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
    expect(await iamGone(`skyward-${id}`)).toEqual({ role: "NoSuchEntityException", profile: "NoSuchEntityException" })
  })

  it("skyward down removes a pool's leftover role and instance profile", async () => {
    const id = poolId()
    const name = `skyward-${id}`
    // left as a crashed client would leave them: made in a scope never closed
    const scope = await Effect.runPromise(Scope.make())
    await Effect.runPromise(
      poolInstanceProfile(iam, id, "us-east-1", [volume(`s3://${bucket}/data`)], [{ Key: "skyward:pool", Value: id }]).pipe(Scope.extend(scope))
    )
    expect(await iamGone(name)).toEqual({ role: "there", profile: "there" })
    const { removed, failed } = await Effect.runPromise(removeResources({ endpoint: moto.endpoint, region: "us-east-1" }, id))
    expect(failed).toEqual([])
    expect(removed.map((r) => `${r.kind} ${r.id}`).sort()).toEqual([`iam-role ${name}`, `instance-profile ${name}`])
    expect(await iamGone(name)).toEqual({ role: "NoSuchEntityException", profile: "NoSuchEntityException" })
  })
})
