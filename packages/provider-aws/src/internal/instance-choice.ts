import { DescribeInstanceTypesCommand, type EC2Client, type InstanceTypeInfo } from "@aws-sdk/client-ec2"
import { instanceTypeInfo } from "./ami.js"
import type { NodePrice } from "@skyward/contracts"
import { Effect } from "effect"
import { AwsSetupError, toCallError, type AwsCallError } from "./errors.js"
import type { Allocation } from "./options.js"
import { parseGpu, type GpuRequest } from "./gpu.js"
import { onDemandPrice, spotPrices } from "./prices.js"

/** What the work needs of each machine (`vcpus`, `memory` in GiB, `gpu`). */
export interface ResourceRequest {
  readonly vcpus?: number
  readonly memory?: number
  /** `TYPE[:count]` (`T4`, `A10G:4`), or a count alone (`1`: any GPU). */
  readonly gpu?: string
}

/** The instance type chosen for a request, with its size and price. */
export interface InstanceChoice {
  readonly instanceType: string
  readonly vcpus: number
  readonly memoryGiB: number
  readonly gpus: string | undefined
  readonly price: NodePrice | undefined
}

/** Of the types that fit, only the smallest this many are priced: a larger one is never cheaper in practice, and spot prices are asked for these only. */
const CANDIDATES_PRICED = 40

const gpusOf = (info: InstanceTypeInfo): string | undefined =>
  info.GpuInfo?.Gpus?.map((g) => `${g.Count ?? 1}x ${g.Manufacturer ?? ""} ${g.Name ?? "GPU"}`.replace(/\s+/g, " ")).join(", ")

const choiceOf = (info: InstanceTypeInfo, price: NodePrice | undefined): InstanceChoice => ({
  instanceType: info.InstanceType!,
  vcpus: info.VCpuInfo?.DefaultVCpus ?? 0,
  memoryGiB: (info.MemoryInfo?.SizeInMiB ?? 0) / 1024,
  gpus: gpusOf(info),
  price
})

const fits = (info: InstanceTypeInfo, request: ResourceRequest, gpu: GpuRequest | undefined): boolean => {
  if (info.CurrentGeneration !== true || info.BareMetal === true) return false
  const archs = info.ProcessorInfo?.SupportedArchitectures ?? []
  if (!archs.includes("x86_64") && !archs.includes("arm64")) return false
  if ((info.VCpuInfo?.DefaultVCpus ?? 0) < (request.vcpus ?? 1)) return false
  if ((info.MemoryInfo?.SizeInMiB ?? 0) < (request.memory ?? 0) * 1024) return false
  if (gpu === undefined) return true
  const matching = (info.GpuInfo?.Gpus ?? []).filter((g) => gpu.name === undefined || g.Name?.toLowerCase() === gpu.name.toLowerCase())
  return matching.reduce((sum, g) => sum + (g.Count ?? 0), 0) >= gpu.count
}

/** Every instance type of the region (the catalog, all pages). */
const catalog = (ec2: EC2Client): Effect.Effect<InstanceTypeInfo[], AwsCallError> =>
  Effect.gen(function* () {
    const all: InstanceTypeInfo[] = []
    let token: string | undefined
    do {
      const out = yield* Effect.tryPromise({
        try: () => ec2.send(new DescribeInstanceTypesCommand({ MaxResults: 100, ...(token === undefined ? {} : { NextToken: token }) })),
        catch: toCallError("DescribeInstanceTypes")
      })
      all.push(...(out.InstanceTypes ?? []))
      token = out.NextToken
    } while (token)
    return all
  })

const describe = (request: ResourceRequest): string =>
  [request.vcpus === undefined ? undefined : `${request.vcpus} vCPUs`, request.memory === undefined ? undefined : `${request.memory} GiB`, request.gpu === undefined ? undefined : `GPU ${request.gpu}`]
    .filter((p) => p !== undefined)
    .join(", ")

/**
 * The cheapest current-generation instance type of the region with at least the vCPUs, memory and
 * GPUs asked for, priced as it would be bought: spot (and spot-if-available) at the region's current
 * spot price, on-demand from the dated price list or `overrides`. Ties go to the smaller machine.
 */
export const chooseInstanceType = (
  ec2: EC2Client,
  region: string,
  request: ResourceRequest,
  allocation: Allocation,
  overrides: Readonly<Record<string, number>> | undefined
): Effect.Effect<InstanceChoice, AwsSetupError | AwsCallError> =>
  Effect.gen(function* () {
    const gpu = request.gpu === undefined ? undefined : parseGpu(request.gpu)
    const size = (i: InstanceTypeInfo) => [i.VCpuInfo?.DefaultVCpus ?? 0, i.MemoryInfo?.SizeInMiB ?? 0] as const
    const fitting = (yield* catalog(ec2))
      .filter((info) => fits(info, request, gpu))
      .sort((a, b) => size(a)[0] - size(b)[0] || size(a)[1] - size(b)[1] || a.InstanceType!.localeCompare(b.InstanceType!))
      .slice(0, CANDIDATES_PRICED)
    if (fitting.length === 0)
      return yield* new AwsSetupError({ field: "provider.vcpus", message: `no instance type of ${region} has ${describe(request)}: ask for less, or name one with instanceType` })
    const types = fitting.map((i) => i.InstanceType!)
    const spot = allocation === "on-demand" ? new Map<string, NodePrice>() : yield* spotPrices(ec2, types)
    const priced = fitting
      .map((info) => ({ info, price: allocation === "on-demand" ? onDemandPrice(region, info.InstanceType!, overrides) : spot.get(info.InstanceType!) }))
      .filter((c): c is { info: InstanceTypeInfo; price: NodePrice } => c.price !== undefined)
    if (priced.length === 0)
      return yield* new AwsSetupError({
        field: "provider.vcpus",
        message:
          `no price is known for the instance types of ${region} with ${describe(request)} (${types.slice(0, 5).join(", ")}, ...) ${allocation === "on-demand" ? "on demand" : "as spot"}: ` +
          `name one with instanceType${allocation === "on-demand" ? ", or give its price with onDemandPrices" : ""}`
      })
    // stable sort: among equal prices the smaller machine (the catalog order above) wins
    const best = priced.sort((a, b) => a.price.usdPerHour - b.price.usdPerHour)[0]!
    return choiceOf(best.info, best.price)
  })

/** `instanceType` with its size and its price as it would be bought. */
export const describeChoice = (
  ec2: EC2Client,
  region: string,
  instanceType: string,
  allocation: Allocation,
  overrides: Readonly<Record<string, number>> | undefined
): Effect.Effect<InstanceChoice, AwsSetupError | AwsCallError> =>
  Effect.gen(function* () {
    const info = yield* instanceTypeInfo(ec2, instanceType)
    const price = allocation === "on-demand" ? onDemandPrice(region, instanceType, overrides) : (yield* spotPrices(ec2, [instanceType])).get(instanceType)
    return choiceOf(info, price)
  })
