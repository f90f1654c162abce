import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import type { UsageError } from "../errors.js"
import { formatUsd, poolCost } from "../named-pools/cost.js"
import { formatDuration } from "../named-pools/duration.js"
import { listPools, type NamedPool } from "../named-pools/state.js"
import { entry, optionsOf } from "../option-table.js"
import { AWS_CONNECTION_TABLE } from "./run-options.js"
import { asCliError, awsAsked, awsConfigured, connectionOf, loadAws, table, type ConnectionFlags } from "./aws-connection.js"

const age = (created: Date | undefined, now: number): string => {
  if (created === undefined) return "-"
  const minutes = Math.max(0, Math.round((now - created.getTime()) / 60_000))
  return minutes < 90 ? `${minutes}m` : minutes < 48 * 60 ? `${Math.round(minutes / 60)}h` : `${Math.round(minutes / 1440)}d`
}

/** The options of `skyward ls` (help and docs show them in this order). */
export const LS_OPTION_TABLE = {
  ...AWS_CONNECTION_TABLE,
  json: entry("options", Options.boolean("json").pipe(Options.withDescription("One JSON object per pool and per EC2 resource (their kind: pool, instance, security-group, key-pair).")))
}

/** What `skyward ls` does. */
export const LS_DESCRIPTION =
  "List the named pools that are up (skyward up) and the Skyward-tagged EC2 instances, security groups and key pairs left in a region."

/** A named pool as `skyward ls --json` prints it (no token: `skyward attach` gives that). */
const poolJson = ({ record, status }: NamedPool, now: number) => {
  const cost = record.price === undefined ? undefined : poolCost(record.price, status, now)
  return {
  kind: "pool",
  name: record.name,
  provider: record.provider,
  nodes: status?.nodes ?? record.nodes,
  slots: status?.totalSlots ?? record.connection.totalSlots,
  busySlots: status?.busySlots ?? 0,
  queued: status?.queued ?? 0,
  clients: status?.clients ?? 0,
  created: record.created,
  idleSeconds: status === undefined || status.busySlots + status.queued > 0 ? 0 : Math.round((now - Date.parse(status.lastUsed)) / 1000),
  closesAfterIdleSeconds: record.idleMs === undefined ? null : record.idleMs / 1000,
  instanceTypes: record.instanceTypes,
  usdPerHour: cost?.usdPerHour ?? null,
  costSoFar: cost?.usd ?? null,
  priceSource: record.price?.source ?? null,
  sentBytes: status?.traffic?.sentBytes ?? null,
  receivedBytes: status?.traffic?.receivedBytes ?? null,
  dashboard: record.dashboard,
  pid: record.pid
  }
}

const poolsTable = (pools: ReadonlyArray<NamedPool>, now: number): string =>
  table([
    ["NAME", "PROVIDER", "NODES", "SLOTS", "BUSY", "CLIENTS", "AGE", "IDLE", "CLOSES AFTER", "TYPES", "$/HOUR", "COST SO FAR"],
    ...pools.map((pool) => {
      const p = poolJson(pool, now)
      return [
        p.name,
        p.provider,
        String(p.nodes),
        String(p.slots),
        String(p.busySlots),
        String(p.clients),
        age(new Date(p.created), now),
        p.idleSeconds === 0 ? "-" : p.idleSeconds < 60 ? `${p.idleSeconds}s` : age(new Date(now - p.idleSeconds * 1000), now),
        p.closesAfterIdleSeconds === null ? "never" : formatDuration(p.closesAfterIdleSeconds * 1000),
        p.instanceTypes.join(",") || "-",
        p.usdPerHour === null ? "-" : formatUsd(p.usdPerHour),
        p.costSoFar === null ? "-" : formatUsd(p.costSoFar)
      ]
    })
  ])

/** The EC2 part: resources left in the region, by pool. */
const listEc2 = (flags: ConnectionFlags & { readonly json: boolean }) =>
  Effect.gen(function* () {
    const { listResources } = yield* loadAws
    const resources = yield* listResources(connectionOf(flags)).pipe(Effect.mapError(asCliError))
    const order: Record<(typeof resources)[number]["kind"], number> = { instance: 0, "security-group": 1, "key-pair": 2, "instance-profile": 3, "iam-role": 4 }
    const sorted = [...resources].sort((a, b) => a.pool.localeCompare(b.pool) || order[a.kind] - order[b.kind] || a.id.localeCompare(b.id))
    if (flags.json) {
      for (const r of sorted) yield* Console.log(JSON.stringify({ ...r, created: r.created?.toISOString() }))
      return
    }
    if (sorted.length === 0) return yield* Console.log("no Skyward resources (tagged skyward:managed=true) in this region")
    const now = Date.now()
    yield* Console.log(
      table([["POOL", "KIND", "ID", "STATE", "AGE", "DETAIL"], ...sorted.map((r) => [r.pool, r.kind, r.id, r.state, age(r.created, now), r.detail])])
    )
    const pools = new Set(sorted.map((r) => r.pool))
    yield* Console.log(`\n${sorted.length} resource${sorted.length === 1 ? "" : "s"} in ${pools.size} pool${pools.size === 1 ? "" : "s"}; remove with: skyward down <pool> | --all`)
  })

/**
 * `skyward ls`: the named pools of this user that are up, then the Skyward-tagged instances,
 * security groups and key pairs of a region, by pool. EC2 is asked when AWS is set up (an AWS
 * flag, or AWS_REGION / AWS_PROFILE in the environment); its set-up errors stop the command only
 * when a flag asked for it.
 */
export const lsCommand = Command.make(
  "ls",
  optionsOf(LS_OPTION_TABLE),
  (flags) =>
    Effect.gen(function* () {
      const now = Date.now()
      const pools = listPools()
      if (flags.json) for (const pool of pools) yield* Console.log(JSON.stringify(poolJson(pool, now)))
      else if (pools.length === 0) yield* Console.log("no named pools are up (skyward up makes one)")
      else {
        yield* Console.log(poolsTable(pools, now))
        for (const { record } of pools) yield* Console.log(`dashboard of ${record.name}: ${record.dashboard}`)
      }
      if (!awsConfigured(flags)) {
        if (!flags.json) yield* Console.log("\nEC2 not checked: no AWS region set (--region, AWS_REGION or AWS_PROFILE)")
        return
      }
      if (!flags.json) yield* Console.log("")
      const ec2 = listEc2(flags)
      yield* awsAsked(flags) ? ec2 : ec2.pipe(Effect.catchIf((e): e is UsageError => e._tag === "UsageError", (e) => Console.log(`EC2 not checked: ${e.message}`)))
    })
).pipe(Command.withDescription(LS_DESCRIPTION))
