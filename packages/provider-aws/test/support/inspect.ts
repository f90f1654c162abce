import {
  CreateSecurityGroupCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  ImportKeyPairCommand,
  RunInstancesCommand,
  type EC2Client,
  type Instance
} from "@aws-sdk/client-ec2"
import { generateEd25519 } from "../../src/internal/host-keys.js"

/** What moto holds of a pool (or of every Skyward resource): live instances, groups, key pairs. */
export const leftInMoto = async (ec2: EC2Client, pool?: string) => {
  const filter = pool === undefined ? { Name: "tag:skyward:managed", Values: ["true"] } : { Name: "tag:skyward:pool", Values: [pool] }
  const reservations = (await ec2.send(new DescribeInstancesCommand({ Filters: [filter] }))).Reservations ?? []
  const instances = reservations.flatMap((r) => r.Instances ?? [])
  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [filter] }))).SecurityGroups ?? []
  const keys = (await ec2.send(new DescribeKeyPairsCommand({ Filters: [filter] }))).KeyPairs ?? []
  return {
    all: instances,
    instances: instances.filter((i) => i.State?.Name !== "terminated").map((i) => i.InstanceId!),
    groups: groups.map((g) => g.GroupId!),
    keys: keys.map((k) => k.KeyName!)
  }
}

/** Every instance moto knows, any state. */
export const allInstances = async (ec2: EC2Client): Promise<Instance[]> =>
  ((await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances ?? [])

/** Nothing left: the shape tests compare with. */
export const NOTHING = { instances: [], groups: [], keys: [] }
export const live = (left: Awaited<ReturnType<typeof leftInMoto>>) => ({ instances: left.instances, groups: left.groups, keys: left.keys })

/**
 * Leaves resources as a crashed client would: a Skyward-tagged key pair, security group and
 * `count` instances of `pool`. Returns their ids (instances, group, key name).
 */
export const makeLeftovers = async (ec2: EC2Client, pool: string, ami: string, count = 2): Promise<string[]> => {
  const tags = [
    { Key: "skyward:pool", Value: pool },
    { Key: "skyward:managed", Value: "true" }
  ]
  const key = await ec2.send(
    new ImportKeyPairCommand({ KeyName: `skyward-${pool}`, PublicKeyMaterial: Buffer.from(generateEd25519(pool).publicKey), TagSpecifications: [{ ResourceType: "key-pair", Tags: tags }] })
  )
  const group = await ec2.send(new CreateSecurityGroupCommand({ GroupName: `skyward-${pool}`, Description: "leftover", TagSpecifications: [{ ResourceType: "security-group", Tags: tags }] }))
  const run = await ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: count, MaxCount: count, InstanceType: "t3.micro", TagSpecifications: [{ ResourceType: "instance", Tags: tags }] }))
  return [...run.Instances!.map((i) => i.InstanceId!), group.GroupId!, key.KeyName!]
}

/** A security group that is not Skyward's. */
export const makeForeignGroup = async (ec2: EC2Client, name: string): Promise<string> =>
  (await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: "not Skyward's" }))).GroupId!

/** Whether a security group still exists. */
export const foreignStillThere = async (ec2: EC2Client, groupId: string): Promise<boolean> =>
  ((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-id", Values: [groupId] }] }))).SecurityGroups ?? []).length === 1
