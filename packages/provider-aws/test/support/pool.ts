import { DescribeImagesCommand, type EC2Client } from "@aws-sdk/client-ec2"
import { type Cluster, type ClusterSpec, emptyImage, Provider, type ProviderShape } from "@skyward/contracts"
import { Context, Effect, Layer } from "effect"
import { generateEd25519 } from "../../src/internal/host-keys.js"
import { awsLayer, type AwsProviderDeps } from "../../src/internal/provider.js"
import type { AwsProviderOptions } from "../../src/internal/options.js"

/** An x86_64 AMI that moto knows. */
export const motoAmi = async (ec2: EC2Client, architecture = "x86_64"): Promise<string> => {
  const images = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: "architecture", Values: [architecture] }] }))).Images ?? []
  return images[0]!.ImageId!
}

let counter = 0
/** A fresh pool id, as core makes them. */
export const poolId = () => `sky-t${process.pid.toString(16)}${(counter++).toString(16).padStart(2, "0")}`

/** What `provisioned` hands its body besides the cluster: the provider and the pool's spec (for `addNode`). */
export interface ProvisionedPool {
  readonly provider: ProviderShape
  readonly spec: ClusterSpec
}

/**
 * Runs the provider alone (no transport): prepare, provision `nodes`, then `body` with the
 * cluster; the scope closes after, releasing everything.
 */
export const provisioned = <A, E, R = never>(
  options: AwsProviderOptions,
  deps: AwsProviderDeps,
  nodes: number,
  body: (cluster: Cluster, pool: ProvisionedPool) => Effect.Effect<A, E, R>,
  id = poolId(),
  volumes: ClusterSpec["volumes"] = []
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const context = yield* Layer.build(awsLayer(options, deps))
      const provider = Context.get(context, Provider)
      const spec: ClusterSpec = { id, provider: "aws", nodes, maxNodes: nodes, concurrency: undefined, executor: "process", volumes }
      yield* provider.prepare({ spec, image: emptyImage })
      const cluster = yield* provider.provision({ spec, image: emptyImage })
      return yield* body(cluster, { provider, spec })
    })
  )

/** A probe that says SSH answers at once (for moto-only tests: nothing is ever connected to). */
export const answering: NonNullable<AwsProviderDeps["probe"]> = () => Effect.void

const consoleKeys = new Map<string, string>()
/** The host key an instance "printed" on its console in moto-only tests (one of its own, made when first asked). */
export const consoleKeyOf = (instanceId: string): string => {
  if (!consoleKeys.has(instanceId)) consoleKeys.set(instanceId, generateEd25519(`root@${instanceId}`).publicKeyLine)
  return consoleKeys.get(instanceId)!
}

/** Seams for moto-only tests, where no instance boots: SSH answers at once, each console shows a host key at once. */
export const offline: AwsProviderDeps = {
  probe: answering,
  hostKeyReader: () => (instanceId) => Effect.succeed({ _tag: "Found", key: consoleKeyOf(instanceId) })
}
