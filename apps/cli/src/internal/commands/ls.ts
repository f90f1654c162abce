import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { entry, optionsOf } from "../option-table.js"
import { AWS_CONNECTION_TABLE } from "./run-options.js"
import { asCliError, connectionOf, loadAws, table } from "./aws-connection.js"

const age = (created: Date | undefined, now: number): string => {
  if (created === undefined) return "-"
  const minutes = Math.max(0, Math.round((now - created.getTime()) / 60_000))
  return minutes < 90 ? `${minutes}m` : minutes < 48 * 60 ? `${Math.round(minutes / 60)}h` : `${Math.round(minutes / 1440)}d`
}

/** The options of `skyward ls` (help and docs show them in this order). */
export const LS_OPTION_TABLE = {
  ...AWS_CONNECTION_TABLE,
  json: entry("options", Options.boolean("json").pipe(Options.withDescription("One JSON object per resource.")))
}

/** What `skyward ls` does. */
export const LS_DESCRIPTION = "List the Skyward-tagged EC2 instances, security groups and key pairs left in a region."

/** `skyward ls`: the Skyward-tagged instances, security groups and key pairs of a region, by pool. */
export const lsCommand = Command.make(
  "ls",
  optionsOf(LS_OPTION_TABLE),
  (flags) =>
    Effect.gen(function* () {
      const { listResources } = yield* loadAws
      const connection = connectionOf(flags)
      const resources = yield* listResources(connection).pipe(Effect.mapError(asCliError))
      const order = { instance: 0, "security-group": 1, "key-pair": 2 }
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
).pipe(Command.withDescription(LS_DESCRIPTION))
