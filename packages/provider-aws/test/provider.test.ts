import { execFileSync } from "node:child_process"
import fs from "node:fs"
import http from "node:http"
import type { AddressInfo } from "node:net"
import os from "node:os"
import path from "node:path"
import { DescribeImagesCommand, DescribeInstanceAttributeCommand, DescribeSecurityGroupsCommand, type EC2Client } from "@aws-sdk/client-ec2"
import { PutParameterCommand } from "@aws-sdk/client-ssm"
import { emptyImage, type NodeInfo } from "@skyward/contracts"
import { Cause, Effect, Exit, Fiber, Scope } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { ltsCandidates } from "../src/internal/ami.js"
import { hostKeyFromConsole } from "../src/internal/console-host-key.js"
import { generateEd25519 } from "../src/internal/host-keys.js"
import { defaultClients, type ClientFactory } from "../src/internal/credentials.js"
import { ON_DEMAND_PRICES_AS_OF } from "../src/internal/on-demand-prices.js"
import { checkOptions, DEFAULT_AMI_PARAMETER } from "../src/internal/options.js"
import { makeAwsProvider, planAws } from "../src/internal/provider.js"
import { onDemandPrice } from "../src/internal/prices.js"
import { parseCloudConfig } from "./support/emulator.js"
import { leftInMoto, live, NOTHING } from "./support/inspect.js"
import { motoUnavailable, startMoto, type Moto } from "./support/moto.js"
import { answering, consoleKeyOf, motoAmi, offline, poolId, provisioned, type ProvisionedPool } from "./support/pool.js"

const noMoto = motoUnavailable()

/** A client factory whose EC2 client fails RunInstances calls that ask for spot, `times` times. */
const spotUnavailable = (times: number, code = "InsufficientInstanceCapacity") => {
  const seen = { spot: 0, onDemand: 0 }
  const factory: ClientFactory = (connection) => {
    const clients = defaultClients(connection)
    clients.ec2.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { InstanceMarketOptions?: unknown }
        if (context.commandName === "RunInstancesCommand") {
          if (input.InstanceMarketOptions !== undefined) {
            seen.spot++
            if (seen.spot <= times)
              throw Object.assign(new Error("There is no Spot capacity available that matches your request."), { name: code, $fault: "server" })
          } else seen.onDemand++
        }
        return next(args)
      },
      { step: "initialize", name: "skywardTestSpotFailure" }
    )
    return clients
  }
  return { factory, seen }
}

/** A client factory whose EC2 client sees every VPC without its IPv4 CIDR (as DescribeVpcs may answer). */
const vpcsWithoutCidr: ClientFactory = (connection) => {
  const clients = defaultClients(connection)
  clients.ec2.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args)
      if (context.commandName === "DescribeVpcsCommand") for (const vpc of (result.output as { Vpcs?: Array<{ CidrBlock?: string }> }).Vpcs ?? []) delete vpc.CidrBlock
      return result
    },
    { step: "initialize", name: "skywardTestNoVpcCidr" }
  )
  return clients
}

/** An HTTP server on loopback that answers every request with `body`, as checkip.amazonaws.com does. */
const checkIpServer = async (body: string) => {
  const server = http.createServer((_, response) => response.end(body))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

/** The inbound rules of the security groups moto holds, as `from-to cidr`. */
const inboundRules = async (ec2: EC2Client): Promise<string[]> => {
  const groups = (await leftInMoto(ec2)).groups
  const described = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groups }))).SecurityGroups ?? []
  return described.flatMap((g) => (g.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort}-${p.ToPort} ${r.CidrIp}`)))
}

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
  return failure?._tag === "Some" ? (failure.value as { _tag: string; field?: string; message: string }) : undefined
}

describe("the options of prices and resources", () => {
  it("come from the option first, then the package's dated list; a type or region it lacks has none", () => {
    expect(onDemandPrice("us-east-1", "m5.large", undefined)).toEqual({ usdPerHour: 0.096, source: `on-demand price list of ${ON_DEMAND_PRICES_AS_OF}` })
    expect(onDemandPrice("eu-west-1", "m5.large", undefined)?.usdPerHour).toBe(0.107)
    expect(onDemandPrice("us-east-1", "m5.large", { "m5.large": 0.08 })).toEqual({ usdPerHour: 0.08, source: "onDemandPrices option" })
    expect(onDemandPrice("ap-south-2", "m5.large", undefined)).toBeUndefined()
    expect(onDemandPrice("us-east-1", "x9.huge", undefined)).toBeUndefined()
  })

  it("given as an option must be USD per hour", () => {
    expect(checkOptions({ onDemandPrices: { "m5.large": 0.08 } })).toBeUndefined()
    expect(checkOptions({ onDemandPrices: { "m5.large": -1 } })).toEqual(["onDemandPrices", "m5.large: -1 is not a price in USD per hour"])
  })

  it("asked by resources: whole vCPUs, GiB, and GPUs as TYPE[:count] or a count", () => {
    expect(checkOptions({ vcpus: 4, memory: 7.5, gpu: "A10G:4" })).toBeUndefined()
    expect(checkOptions({ gpu: "2" })).toBeUndefined()
    expect(checkOptions({ vcpus: 2.5 })?.[0]).toBe("vcpus")
    expect(checkOptions({ memory: 0 })?.[0]).toBe("memory")
    expect(checkOptions({ gpu: "T4:0" })?.[0]).toBe("gpu")
  })
})

describe("the default AMI parameter", () => {
  it("stands for every Ubuntu LTS release, newest first", () => {
    expect(DEFAULT_AMI_PARAMETER).toBe("/aws/service/canonical/ubuntu/server/{version}/stable/current/{arch}/hvm/ebs-gp3/ami-id")
    expect(ltsCandidates(new Date("2026-11-22T00:00:00Z"))).toEqual(["28.04", "26.04", "24.04", "22.04", "20.04"])
    expect(ltsCandidates(new Date("2027-01-01T00:00:00Z"))).toEqual(["28.04", "26.04", "24.04", "22.04", "20.04"])
    expect(ltsCandidates(new Date("2031-06-01T00:00:00Z"))[0]).toBe("32.04")
  })
})

describe("the host key an instance prints on its console", () => {
  const key = generateEd25519("root@ip-10-0-0-7").publicKeyLine
  const other = generateEd25519("root@elsewhere").publicKeyLine
  /** Console output as an Ubuntu instance's cloud-init writes it (keys-to-console), with `keys` in the block. */
  const console = (...keys: string[]) =>
    [
      "[    9.412339] cloud-init[611]: Cloud-init v. 24.1.3 running 'modules:final'",
      "<14>Jan  1 00:00:10 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----",
      "<14>Jan  1 00:00:10 cloud-init: 256 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU root@ip-10-0-0-7 (ED25519)",
      "<14>Jan  1 00:00:10 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----",
      "-----BEGIN SSH HOST KEY KEYS-----",
      "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= root@ip-10-0-0-7",
      ...keys.map((k) => `${k} root@ip-10-0-0-7`),
      "-----END SSH HOST KEY KEYS-----",
      "[   11.027711] cloud-init[702]: Cloud-init v. 24.1.3 finished"
    ].join("\r\n")

  it("is the ed25519 key of cloud-init's key block, bare or behind a log prefix", () => {
    expect(hostKeyFromConsole(console(key))).toEqual({ _tag: "Found", key })
    expect(hostKeyFromConsole(console(key).replace(/^(ssh-ed25519)/m, "<14>Jan  1 00:00:10 ec2: $1"))).toEqual({ _tag: "Found", key })
    // printed again after a reboot: still one key
    expect(hostKeyFromConsole(`${console(key)}\n${console(key)}`)).toEqual({ _tag: "Found", key })
  })

  it("is not there yet before cloud-init printed it, and a key outside the block or not ed25519 does not count", () => {
    expect(hostKeyFromConsole("")).toEqual({ _tag: "NotYet" })
    expect(hostKeyFromConsole(`[    1.0] some kernel line\n${key} root@x\n`)).toEqual({ _tag: "NotYet" })
    expect(hostKeyFromConsole(console("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA"))).toEqual({ _tag: "NotYet" })
  })

  it("trusts none when the console shows two different ed25519 keys", () => {
    expect(hostKeyFromConsole(`${console(key)}\n${console(other)}`)).toEqual({ _tag: "Ambiguous", keys: [key, other] })
    expect(hostKeyFromConsole(console(key, other))).toEqual({ _tag: "Ambiguous", keys: [key, other] })
  })
})

describe.skipIf(noMoto !== undefined)("the EC2 provider against moto", () => {
  let moto: Moto
  let ami: string
  let ec2: EC2Client
  const base = () => ({ endpoint: moto.endpoint, region: "us-east-1", ami, sshCidr: "198.51.100.7/32", pollInterval: 0.05, bootTimeout: 5 })

  beforeAll(async () => {
    moto = await startMoto()
    ec2 = moto.ec2
    ami = await motoAmi(ec2)
  })
  afterAll(async () => {
    await moto?.stop()
  })
  beforeEach(async () => {
    expect(live(await leftInMoto(ec2))).toEqual(NOTHING)
  })

  it("creates a key pair, a security group and the instances, tagged, and deletes them all when the pool closes", async () => {
    const id = poolId()
    const seen = await Effect.runPromise(
      provisioned({ ...base(), allocation: "on-demand", ttl: 7 }, offline, 2, (cluster) =>
        Effect.promise(async () => {
          const left = await leftInMoto(ec2, id)
          const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: left.groups }))).SecurityGroups ?? []
          const userData = await Promise.all(
            left.instances.map(async (instanceId) => {
              const a = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: "userData" }))
              return Buffer.from(a.UserData!.Value!, "base64").toString()
            })
          )
          const shutdown = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: left.instances[0]!, Attribute: "instanceInitiatedShutdownBehavior" }))
          return { cluster, left, groups, userData, shutdown: shutdown.InstanceInitiatedShutdownBehavior?.Value }
        }),
        id
      )
    )
    const { cluster, left, groups, userData } = seen
    expect(cluster.id).toBe(id)
    expect(cluster.nodes.map((n) => n.index)).toEqual([0, 1])
    expect(left.instances).toHaveLength(2)
    expect(left.keys).toEqual([`skyward-${id}`])
    expect(left.groups).toHaveLength(1)
    for (const instance of left.all) {
      const tags = Object.fromEntries((instance.Tags ?? []).map((t) => [t.Key, t.Value]))
      expect(tags).toMatchObject({ "skyward:pool": id, "skyward:managed": "true" })
      expect(instance.KeyName).toBe(`skyward-${id}`)
      // public addressing launches through a network interface (with a public IP): the group is on it
      expect(instance.NetworkInterfaces?.[0]?.Groups?.map((g) => g.GroupId)).toEqual(left.groups)
      expect(instance.PublicIpAddress).toBeDefined()
      expect(instance.InstanceLifecycle).toBeUndefined()
    }
    expect(seen.shutdown).toBe("terminate")
    // exactly the given CIDR, on port 22, nothing else inbound
    expect(groups[0]!.IpPermissions).toEqual([
      expect.objectContaining({ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [expect.objectContaining({ CidrIp: "198.51.100.7/32" })] })
    ])
    expect(groups[0]!.IpPermissions![0]!.Ipv6Ranges ?? []).toEqual([])
    expect(groups[0]!.IpPermissions![0]!.UserIdGroupPairs ?? []).toEqual([])
    // each node's pinned host key is the one its console showed; the user-data holds no private
    // key (the instance makes its own); the login key is authorized
    const byInstance = new Map(left.instances.map((instanceId, i) => [instanceId, parseCloudConfig(userData[i]!)]))
    const hostKeys = new Set<string>()
    for (const node of cluster.nodes) {
      const data = node.data as { instanceId: string; hostKey: string; ssh: { hostKey: string; user: string; key: { data: string } } }
      const config = byInstance.get(data.instanceId)!
      expect(data.ssh.hostKey).toBe(data.hostKey)
      expect(data.hostKey).toBe(consoleKeyOf(data.instanceId))
      expect(config.ssh_keys).toBeUndefined()
      expect(config.ssh_genkeytypes).toEqual(["ed25519"])
      expect(userData.join("\n")).not.toMatch(/PRIVATE KEY|b3BlbnNzaC1rZXktdjE/)
      hostKeys.add(data.hostKey)
      const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sky-key-")), "k")
      fs.writeFileSync(keyFile, data.ssh.key.data, { mode: 0o600 })
      const login = execFileSync("ssh-keygen", ["-y", "-f", keyFile], { encoding: "utf8" }).trim().split(" ").slice(0, 2).join(" ")
      expect(config.ssh_authorized_keys!.map((k) => k.split(" ").slice(0, 2).join(" "))).toEqual([login])
      expect(data.ssh.user).toBe("ubuntu")
      // the watchdog: ttl 7 minutes, the default power-off command
      const watchdog = config.write_files!.find((f) => f.path === "/usr/local/sbin/skyward-watchdog")!.content
      expect(watchdog).toContain("ttl=420")
      expect(watchdog).toContain("login='ubuntu'")
      expect(watchdog).toContain("systemctl poweroff")
      // sshd ends the sessions of vanished clients (at most 15 s x 4), well within the ttl
      expect(config.write_files!.find((f) => f.path === "/etc/ssh/sshd_config.d/05-skyward-keepalive.conf")!.content).toMatch(/^ClientAliveInterval 15\nClientAliveCountMax 4$/m)
      fs.rmSync(path.dirname(keyFile), { recursive: true })
    }
    expect(hostKeys.size).toBe(2)
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
  })

  it("addNode launches one more tagged, priced instance with the next index; closing its scope terminates it alone, the pool's close the rest", async () => {
    const id = poolId()
    let opened: ProvisionedPool | undefined
    const seen = await Effect.runPromise(
      provisioned({ ...base(), allocation: "spot-if-available" }, offline, 2, (cluster, pool) =>
        Effect.gen(function* () {
          opened = pool
          const scope = yield* Scope.make()
          const added = yield* pool.provider.addNode!({ spec: pool.spec, image: emptyImage, index: 2, nodes: cluster.nodes }).pipe(Scope.extend(scope))
          const during = yield* Effect.promise(() => leftInMoto(ec2, id))
          yield* Scope.close(scope, Exit.void)
          const after = yield* Effect.promise(() => leftInMoto(ec2, id))
          return { cluster, added, during, after }
        }),
        id
      )
    )
    type Data = { instanceId: string; hostKey: string; lifecycle: string; availabilityZone: string; ssh: { host: string; hostKey: string; key: { data: string } } }
    const dataOf = (node: NodeInfo) => node.data as unknown as Data
    const { cluster, added, during, after } = seen
    const first = cluster.nodes.map((n) => dataOf(n).instanceId)
    const addedData = dataOf(added)
    expect(added.index).toBe(2)
    expect(during.instances.sort()).toEqual([...first, addedData.instanceId].sort())
    const instance = during.all.find((i) => i.InstanceId === addedData.instanceId)!
    const tags = Object.fromEntries((instance.Tags ?? []).map((t) => [t.Key, t.Value]))
    expect(tags).toMatchObject({ "skyward:pool": id, "skyward:managed": "true", "skyward:node": "2", Name: `skyward-${id}-2` })
    // the pool's key pair and group, as the first nodes
    const firstInstance = during.all.find((i) => i.InstanceId === first[0])!
    expect(instance.KeyName).toBe(`skyward-${id}`)
    expect(instance.NetworkInterfaces?.[0]?.Groups?.map((g) => g.GroupId)).toEqual(firstInstance.NetworkInterfaces?.[0]?.Groups?.map((g) => g.GroupId))
    expect(during.keys).toEqual([`skyward-${id}`])
    expect(during.groups).toHaveLength(1)
    // node data and price as provision makes them
    expect(addedData.ssh.hostKey).toBe(consoleKeyOf(addedData.instanceId))
    expect(addedData.hostKey).toBe(addedData.ssh.hostKey)
    expect(addedData.ssh.key.data).toBe(dataOf(cluster.nodes[0]!).ssh.key.data)
    expect(added.address).toBe(instance.PublicIpAddress)
    expect(Object.keys(addedData).sort()).toEqual(Object.keys(dataOf(cluster.nodes[0]!)).sort())
    expect(addedData.lifecycle).toBe("spot")
    expect(added.price).toEqual({ usdPerHour: 0.00001, source: `spot price in ${addedData.availabilityZone} at launch` })
    // its scope closed: that instance alone is gone
    expect(after.instances.sort()).toEqual([...first].sort())
    expect(after.keys).toHaveLength(1)
    expect(after.groups).toHaveLength(1)
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
    // a closed pool takes no node
    const late = await Effect.runPromiseExit(
      Effect.scoped(opened!.provider.addNode!({ spec: opened!.spec, image: emptyImage, index: 3, nodes: [] }))
    )
    expect(failureOf(late)).toMatchObject({ _tag: "ProviderError", message: expect.stringMatching(/addNode before provision/) })
  })

  it("addNode before provision is a ProviderError, and creates nothing", async () => {
    const provider = makeAwsProvider({ ...base() }, offline)
    const spec = { id: poolId(), provider: "aws", nodes: 1, maxNodes: 2, concurrency: undefined, executor: "process" as const, volumes: [] }
    const exit = await Effect.runPromiseExit(Effect.scoped(provider.addNode!({ spec, image: emptyImage, index: 1, nodes: [] })))
    expect(failureOf(exit)).toMatchObject({ _tag: "ProviderError", message: expect.stringMatching(/addNode before provision/) })
    await Effect.runPromise(Effect.scoped(provider.prepare({ spec, image: emptyImage })))
    const prepared = await Effect.runPromiseExit(Effect.scoped(provider.addNode!({ spec, image: emptyImage, index: 1, nodes: [] })))
    expect(failureOf(prepared)?._tag).toBe("ProviderError")
    expect(live(await leftInMoto(ec2, spec.id))).toEqual(NOTHING)
  })

  it("finds the AMI through the SSM parameter for the instance type's architecture", async () => {
    const armAmi = await motoAmi(ec2, "arm64")
    // moto refuses the reserved /aws/service/ names; the parameter path is an option
    await moto.ssm.send(new PutParameterCommand({ Name: "/skyward-test/ubuntu/arm64/ami-id", Value: armAmi, Type: "String", Overwrite: true }))
    await moto.ssm.send(new PutParameterCommand({ Name: "/skyward-test/ubuntu/amd64/ami-id", Value: ami, Type: "String", Overwrite: true }))
    const { ami: _ignored, ...noAmi } = base()
    const options = { ...noAmi, amiParameter: "/skyward-test/ubuntu/{arch}/ami-id", allocation: "on-demand" as const }
    const imageOf = (instanceType: string) =>
      Effect.runPromise(
        provisioned({ ...options, instanceType }, offline, 1, (cluster) =>
          Effect.promise(async () => {
            const instanceId = (cluster.nodes[0]!.data as { instanceId: string }).instanceId
            const found = (await leftInMoto(ec2)).all.find((i) => i.InstanceId === instanceId)!
            return found.ImageId
          })
        )
      )
    expect(await imageOf("m7g.large")).toBe(armAmi)
    expect(await imageOf("c6i.large")).toBe(ami)
    const missing = await Effect.runPromiseExit(provisioned({ ...noAmi, amiParameter: "/skyward-test/none/{arch}" }, offline, 1, () => Effect.void))
    expect(Exit.isFailure(missing) && Cause.pretty(missing.cause)).toContain("/skyward-test/none/amd64")
  })

  it("picks the newest Ubuntu LTS whose SSM parameter exists for the architecture ({version})", async () => {
    const x86 = ((await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: "architecture", Values: ["x86_64"] }] }))).Images ?? []).map((i) => i.ImageId!)
    const [lts24, lts26, interim27] = [x86[0]!, x86[1]!, x86[2]!]
    expect(new Set([lts24, lts26, interim27]).size).toBe(3)
    // moto refuses the reserved /aws/service/ names: the same layout under a test prefix
    for (const [version, image] of [["24.04", lts24], ["26.04", lts26], ["27.04", interim27]] as const)
      await moto.ssm.send(new PutParameterCommand({ Name: `/skyward-test/lts/${version}/stable/current/amd64/ami-id`, Value: image, Type: "String", Overwrite: true }))
    const { ami: _ignored, ...noAmi } = base()
    const template = "/skyward-test/lts/{version}/stable/current/{arch}/ami-id"
    const chosen = await Effect.runPromise(
      provisioned({ ...noAmi, amiParameter: template, instanceType: "c6i.large", allocation: "on-demand" }, offline, 1, (cluster) =>
        Effect.promise(async () => {
          const instanceId = (cluster.nodes[0]!.data as { instanceId: string }).instanceId
          return (await leftInMoto(ec2)).all.find((i) => i.InstanceId === instanceId)!.ImageId
        })
      )
    )
    // 26.04 over 24.04; 27.04 is not an LTS
    expect(chosen).toBe(lts26)
    // no LTS has an arm64 parameter: a ConfigError that names what was looked for
    const none = failureOf(await Effect.runPromiseExit(provisioned({ ...noAmi, amiParameter: template, instanceType: "m7g.large" }, offline, 1, () => Effect.void)))
    expect(none).toMatchObject({ _tag: "ConfigError", field: "provider.ami" })
    expect(none!.message).toContain("/skyward-test/lts/{version}/stable/current/arm64/ami-id")
    expect(none!.message).toMatch(/no Ubuntu LTS \(.*26\.04, 24\.04, 22\.04, 20\.04\)/)
  })

  it("spot-if-available falls back to on-demand when spot has no capacity, each node priced as it was bought; spot alone fails cleanly", async () => {
    const flaky = spotUnavailable(1)
    const lifecycles = await Effect.runPromise(
      provisioned({ ...base(), allocation: "spot-if-available" }, { ...offline, clients: flaky.factory }, 2, (cluster) =>
        Effect.promise(async () => {
          const all = (await leftInMoto(ec2)).all
          return cluster.nodes.map((node) => {
            const data = node.data as { instanceId: string; lifecycle: string; spotFallback?: string; availabilityZone: string }
            const instance = all.find((i) => i.InstanceId === data.instanceId)!
            return { ours: data.lifecycle, moto: instance.InstanceLifecycle ?? "on-demand", fellBack: data.spotFallback !== undefined, price: node.price, zone: data.availabilityZone }
          })
        })
      )
    )
    // one spot request failed (and fell back), the other got spot
    expect(lifecycles.map((l) => l.ours).sort()).toEqual(["on-demand", "spot"])
    for (const l of lifecycles) expect(l.moto).toBe(l.ours)
    expect(lifecycles.filter((l) => l.fellBack)).toHaveLength(1)
    // on-demand: the package's dated list (c6i.large in us-east-1); spot: EC2's price history (moto answers $0.00001)
    const onDemand = lifecycles.find((l) => l.ours === "on-demand")!
    expect(onDemand.price).toEqual({ usdPerHour: 0.085, source: `on-demand price list of ${ON_DEMAND_PRICES_AS_OF}` })
    const spot = lifecycles.find((l) => l.ours === "spot")!
    expect(spot.price).toEqual({ usdPerHour: 0.00001, source: `spot price in ${spot.zone} at launch` })
    expect(flaky.seen).toEqual({ spot: 2, onDemand: 1 })

    const none = spotUnavailable(99, "SpotMaxPriceTooLow")
    const id = poolId()
    const exit = await Effect.runPromiseExit(provisioned({ ...base(), allocation: "spot" }, { ...offline, clients: none.factory }, 2, () => Effect.void, id))
    expect(Exit.isFailure(exit)).toBe(true)
    const message = Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause)
    expect(message).toContain("SpotMaxPriceTooLow")
    expect(none.seen.onDemand).toBe(0)
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
  })

  it("picks the cheapest instance type with the vCPUs, memory and GPUs asked for, priced as it is bought; refuses what no type has", async () => {
    const onDemand = await Effect.runPromise(planAws({ ...base(), vcpus: 4, memory: 8, allocation: "on-demand" }, 2))
    // of the list's priced types with >= 4 vCPUs and >= 8 GiB, Graviton's c7g.xlarge is the cheapest
    expect(onDemand).toMatchObject({ instanceType: "c7g.xlarge", vcpus: 4, memoryGiB: 8, allocation: "on-demand", region: "us-east-1", nodes: 2 })
    expect(onDemand.price).toEqual({ usdPerHour: 0.145, source: `on-demand price list of ${ON_DEMAND_PRICES_AS_OF}` })
    const gpu = await Effect.runPromise(planAws({ ...base(), gpu: "T4", allocation: "on-demand" }, 1))
    expect(gpu).toMatchObject({ instanceType: "g4dn.xlarge", gpus: "1x NVIDIA T4", price: { usdPerHour: 0.526 } })
    // spot: moto prices every type alike, so the smallest fitting one wins
    const spot = await Effect.runPromise(planAws({ ...base(), vcpus: 2, memory: 16 }, 1))
    expect(spot.vcpus).toBeGreaterThanOrEqual(2)
    expect(spot.memoryGiB).toBe(16)
    expect(spot.price?.source).toMatch(/^spot price in us-east-1[a-f] now$/)
    // the named type wins, and is priced the same way
    expect(await Effect.runPromise(planAws({ ...base(), instanceType: "m5.large", vcpus: 64, allocation: "on-demand" }, 1))).toMatchObject({
      instanceType: "m5.large",
      price: { usdPerHour: 0.096 }
    })
    const none = await Effect.runPromiseExit(planAws({ ...base(), vcpus: 4000 }, 1))
    expect(Cause.pretty((none as Exit.Failure<unknown, unknown>).cause)).toContain("no instance type of us-east-1 has 4000 vCPUs")
    expect(live(await leftInMoto(ec2))).toEqual(NOTHING) // a plan creates nothing

    // a pool asked by resources gets that type (Graviton: an arm64 AMI)
    const arm = await motoAmi(ec2, "arm64")
    const types = await Effect.runPromise(
      provisioned({ ...base(), ami: arm, vcpus: 4, memory: 8, allocation: "on-demand" }, offline, 1, (cluster) =>
        Effect.succeed(cluster.nodes.map((n) => [n.data.instanceType, n.price?.usdPerHour]))
      )
    )
    expect(types).toEqual([["c7g.xlarge", 0.145]])
  })

  it("tears everything down when some instances never answer, then says which and why", async () => {
    const id = poolId()
    let unreachable = ""
    const probe = (host: string) => {
      unreachable ||= host
      return host === unreachable ? Effect.fail("ECONNREFUSED") : Effect.void
    }
    let leftAtFailure: unknown
    const exit = await Effect.runPromiseExit(
      provisioned({ ...base(), bootTimeout: 1 }, { ...offline, probe }, 3, () => Effect.void, id).pipe(
        Effect.tapErrorCause(() => Effect.promise(async () => (leftAtFailure = live(await leftInMoto(ec2, id)))))
      )
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const failure = Cause.failureOption((exit as Exit.Failure<unknown, unknown>).cause)
    const error = failure._tag === "Some" ? (failure.value as { _tag: string; message: string }) : undefined
    expect(error?._tag).toBe("ProviderError")
    expect(error?.message).toMatch(/1 of 3 instances did not come up/)
    expect(error?.message).toMatch(new RegExp(`node \\d \\(i-[0-9a-f]+\\): SSH on ${unreachable.replaceAll(".", "\\.")}:22 did not answer within 1s \\(last: ECONNREFUSED\\)`))
    // torn down before the error was reported
    expect(leftAtFailure).toEqual(NOTHING)
  })

  it("refuses an instance whose console never shows its host key (GetConsoleOutput answers, with no key in it), tearing down", async () => {
    const id = poolId()
    const exit = await Effect.runPromiseExit(provisioned({ ...base(), bootTimeout: 1 }, { probe: answering }, 1, () => Effect.void, id))
    expect(failureOf(exit)?._tag).toBe("ProviderError")
    expect(failureOf(exit)?.message).toMatch(/node 0 \(i-[0-9a-f]+\): its console output showed no SSH host key within 1s \(cloud-init prints it once the instance has booted\)/)
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
  })

  it("leaves no instance, security group or key pair when interrupted during provisioning", async () => {
    const id = poolId()
    const fiber = Effect.runFork(provisioned({ ...base(), bootTimeout: 600 }, { ...offline, probe: () => Effect.fail("ECONNREFUSED") }, 2, () => Effect.void, id))
    const until = Date.now() + 20_000
    while ((await leftInMoto(ec2, id)).instances.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
    expect((await leftInMoto(ec2, id)).instances).toHaveLength(2)
    const exit = await Effect.runPromise(Fiber.interrupt(fiber))
    expect(Exit.isInterrupted(exit)).toBe(true)
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
  })

  it("leaves nothing when interrupted while the instances are being launched", async () => {
    const id = poolId()
    const fiber = Effect.runFork(provisioned({ ...base(), bootTimeout: 600 }, { ...offline, probe: () => Effect.fail("ECONNREFUSED") }, 3, () => Effect.void, id))
    // as soon as the key pair exists: the group and instances are on their way
    const until = Date.now() + 20_000
    while ((await leftInMoto(ec2, id)).keys.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5))
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
  })

  it("refuses missing credentials or region before creating anything", async () => {
    const saved = { ...process.env }
    const before = live(await leftInMoto(ec2))
    try {
      delete process.env.AWS_ACCESS_KEY_ID
      delete process.env.AWS_SECRET_ACCESS_KEY
      const noCredentials = await Effect.runPromiseExit(provisioned({ ...base() }, offline, 1, () => Effect.void))
      const e1 = Cause.failureOption((noCredentials as Exit.Failure<unknown, unknown>).cause)
      expect(e1._tag === "Some" && e1.value).toMatchObject({ _tag: "ConfigError", field: "provider.credentials" })
      expect((e1 as { value: { message: string } }).value.message).toMatch(/no AWS credentials.*AWS_ACCESS_KEY_ID/)
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing" })
      delete process.env.AWS_REGION
      const { region: _r, ...noRegion } = base()
      const exit = await Effect.runPromiseExit(provisioned(noRegion, offline, 1, () => Effect.void))
      const e2 = Cause.failureOption((exit as Exit.Failure<unknown, unknown>).cause)
      expect(e2._tag === "Some" && e2.value).toMatchObject({ _tag: "ConfigError", field: "provider.region" })
    } finally {
      process.env = saved
    }
    expect(live(await leftInMoto(ec2))).toEqual(before)
  })

  it("rejects bad options as ConfigErrors naming the field", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ sshCidr: "everyone" }, "provider.sshCidr"],
      [{ allocation: "cheap" }, "provider.allocation"],
      [{ instanceType: "z99.huge" }, "provider.instanceType"],
      [{ ami: "ami-00000000" }, "provider.ami"],
      [{ subnetId: "subnet-00000000" }, "provider.subnetId"]
    ]
    for (const [extra, field] of cases) {
      const exit = await Effect.runPromiseExit(provisioned({ ...base(), ...extra }, offline, 1, () => Effect.void))
      const e = Cause.failureOption((exit as Exit.Failure<unknown, unknown>).cause)
      expect(e._tag === "Some" && e.value, JSON.stringify(extra)).toMatchObject({ _tag: "ConfigError", field })
    }
  })

  it("with private addressing and no sshCidr, opens port 22 to the VPC's CIDR only", async () => {
    const { sshCidr: _c, ...rest } = base()
    const cidrs = await Effect.runPromise(
      provisioned({ ...rest, address: "private" }, offline, 1, () =>
        Effect.promise(async () => {
          const groups = (await leftInMoto(ec2)).groups
          const described = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groups }))).SecurityGroups ?? []
          return described.flatMap((g) => (g.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort}-${p.ToPort} ${r.CidrIp}`)))
        })
      )
    )
    expect(cidrs).toEqual(["22-22 172.31.0.0/16"])
  })

  it("with private addressing, a VPC without an IPv4 CIDR is a ConfigError asking for sshCidr, never 0.0.0.0/0", async () => {
    const { sshCidr: _c, ...rest } = base()
    const id = poolId()
    const exit = await Effect.runPromiseExit(provisioned({ ...rest, address: "private" }, { ...offline, clients: vpcsWithoutCidr }, 1, () => Effect.void, id))
    const error = failureOf(exit)
    expect(error).toMatchObject({ _tag: "ConfigError", field: "provider.sshCidr" })
    expect(error!.message).toMatch(/no IPv4 CIDR for vpc-[0-9a-f]+: pass sshCidr/)
    expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
    // with sshCidr given, the same VPC is fine
    const given = await Effect.runPromise(
      provisioned({ ...rest, address: "private", sshCidr: "172.31.5.6/32" }, { ...offline, clients: vpcsWithoutCidr }, 1, () => Effect.promise(() => inboundRules(ec2)))
    )
    expect(given).toEqual(["22-22 172.31.5.6/32"])
  })

  it("with public addressing and no sshCidr, opens port 22 to this machine's public address (/32) only", async () => {
    const { sshCidr: _c, ...rest } = base()
    // the public-address lookup, answered on loopback (this test machine reaches nothing else)
    const checkIp = await checkIpServer("203.0.113.9\n")
    try {
      const cidrs = await Effect.runPromise(provisioned({ ...rest }, { ...offline, checkIpUrl: checkIp.url }, 1, () => Effect.promise(() => inboundRules(ec2))))
      expect(cidrs).toEqual(["22-22 203.0.113.9/32"])
    } finally {
      await checkIp.close()
    }
    // an answer that is not an address: a ConfigError asking for sshCidr, before anything is created
    const garbage = await checkIpServer("<html>captive portal</html>")
    try {
      const id = poolId()
      const error = failureOf(await Effect.runPromiseExit(provisioned({ ...rest }, { ...offline, checkIpUrl: garbage.url }, 1, () => Effect.void, id)))
      expect(error).toMatchObject({ _tag: "ConfigError", field: "provider.sshCidr" })
      expect(error!.message).toMatch(/cannot find this machine's public address .*unexpected answer.*pass sshCidr/)
      expect(live(await leftInMoto(ec2, id))).toEqual(NOTHING)
    } finally {
      await garbage.close()
    }
  })
})
