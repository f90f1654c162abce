import { nodeRange, validatePoolOptions, type NodeCount, type PoolOptions } from "@skyward/contracts"
import { local } from "@skyward/core"
import { Console, Effect } from "effect"
import { UsageError } from "./errors.js"
import { formatUsd } from "./named-pools/cost.js"
import { poolOptionsFrom, type PoolFlags } from "./pool-options.js"

/** What `--dry-run` prints: the pool the flags (and config file) describe, found without creating anything. */
export interface DryRun {
  readonly provider: string
  /** A count, or `{ min, max }` for an elastic pool. */
  readonly nodes: NodeCount
  readonly slotsPerNode: number | "cpus"
  readonly executor: string
  readonly machine: string | undefined
  readonly usdPerHourPerNode: number | undefined
  readonly priceSource: string | undefined
}

const slotsOf = (options: PoolOptions): number | "cpus" => options.worker.concurrency ?? "cpus"

/** The pool `skyward run` / `skyward up` would open, with its provider's plan (EC2: instance type and price). */
export const dryRun = (flags: PoolFlags): Effect.Effect<DryRun, UsageError> =>
  Effect.gen(function* () {
    const options = yield* validatePoolOptions(yield* poolOptionsFrom(flags)).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    const provider = options.provider ?? local()
    const plan = provider.plan === undefined ? undefined : yield* provider.plan(nodeRange(options.nodes).max).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    return {
      provider: provider.name,
      nodes: options.nodes,
      slotsPerNode: slotsOf(options),
      executor: options.worker.executor,
      machine: plan?.machine ?? (provider.name === "local" ? "agent processes on this machine" : undefined),
      usdPerHourPerNode: plan?.price?.usdPerHour,
      priceSource: plan?.price?.source
    }
  })

/** What the pool costs per hour: one figure, or from its fewest to its most nodes. */
const poolPrice = (perNode: number, nodes: NodeCount): string => {
  const { min, max } = nodeRange(nodes)
  return min === max ? `${formatUsd(perNode * min)}/hour for the pool` : `${formatUsd(perNode * min)} to ${formatUsd(perNode * max)}/hour for the pool`
}

/** The dry run for people (`--json`: one JSON object). */
export const dryRunText = (plan: DryRun): string => {
  const slots = plan.slotsPerNode === "cpus" ? "one slot per CPU" : `${plan.slotsPerNode} ${plan.executor} slot${plan.slotsPerNode === 1 ? "" : "s"} each`
  const price =
    plan.usdPerHourPerNode === undefined
      ? plan.provider === "aws"
        ? "unknown (no price found for this type: see docs/pools.md)"
        : undefined
      : `${poolPrice(plan.usdPerHourPerNode, plan.nodes)} (${formatUsd(plan.usdPerHourPerNode)} per node; ${plan.priceSource})`
  const nodes = typeof plan.nodes === "number" ? String(plan.nodes) : `${plan.nodes.min} to ${plan.nodes.max} (elastic)`
  return [
    "dry run: nothing was created",
    `  provider: ${plan.provider}`,
    `  nodes:    ${nodes}, ${slots}`,
    ...(plan.machine === undefined ? [] : [`  machine:  ${plan.machine}`]),
    ...(price === undefined ? [] : [`  price:    ${price}`])
  ].join("\n")
}

/** Prints the dry run of the pool the flags describe (`--json`: as one JSON object). */
export const printDryRun = (flags: PoolFlags, json: boolean) =>
  dryRun(flags).pipe(Effect.flatMap((plan) => Console.log(json ? JSON.stringify({ dryRun: true, ...plan }) : dryRunText(plan))))
