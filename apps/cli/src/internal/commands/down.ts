import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { UsageError } from "../errors.js"
import { closePool, type Closed } from "../named-pools/close.js"
import { findPool, listPools } from "../named-pools/state.js"
import { asCliError, awsConfigured, connectionOf, loadAws, type ConnectionFlags } from "./aws-connection.js"
import { entry, optionsOf } from "../option-table.js"
import { AWS_CONNECTION_TABLE } from "./run-options.js"
import { exitCode } from "./run.js"

/** The options of `skyward down` (help and docs show them in this order). */
export const DOWN_OPTION_TABLE = {
  ...AWS_CONNECTION_TABLE,
  all: entry(
    "options",
    Options.boolean("all").pipe(Options.withDescription("Close every named pool of yours, and remove every Skyward-tagged EC2 resource of the region when AWS is set up."))
  )
}

/** What `skyward down` does. */
export const DOWN_DESCRIPTION = "Close a named pool (skyward up), or remove the Skyward-tagged EC2 resources a pool left in a region; or all of them (--all)."

/** The pool argument's description. */
export const POOL_ID_DESCRIPTION = "A named pool (see skyward ls), or the id of the pool whose EC2 resources to remove."

const closedLine = (closed: Closed): string =>
  closed.clean
    ? `closed pool ${closed.name}`
    : `pool ${closed.name} did not close in time and was killed: its remote agents exit as their connection drops, EC2 instances end by their ttl (skyward ls --region ... lists what is left)`

/** Removes the EC2 resources of one pool id, or all of them. */
const downEc2 = (flags: ConnectionFlags, target: string) =>
  Effect.gen(function* () {
    const { removeResources } = yield* loadAws
    const { removed, failed, region } = yield* removeResources(connectionOf(flags), target).pipe(Effect.mapError(asCliError))
    for (const r of removed) yield* Console.log(`removed ${r.kind} ${r.id} (pool ${r.pool})`)
    for (const f of failed) yield* Console.error(`could not remove ${f.resource.kind} ${f.resource.id} (pool ${f.resource.pool}): ${f.message}`)
    if (removed.length === 0 && failed.length === 0)
      yield* Console.log(target === "all" ? `no Skyward resources in ${region}` : `nothing of pool ${target} in ${region}`)
    if (failed.length > 0) exitCode.value = 1
  })

/**
 * `skyward down <name> | <pool-id> | --all`: a named pool is closed as Ctrl-C closes `skyward run`'s
 * (its machines released); otherwise the name is an EC2 pool id whose tagged resources (instances,
 * then groups, then key pairs) are removed.
 */
export const downCommand = Command.make(
  "down",
  {
    ...optionsOf(DOWN_OPTION_TABLE),
    pool: Args.text({ name: "pool" }).pipe(Args.withDescription(POOL_ID_DESCRIPTION), Args.optional)
  },
  (flags) =>
    Effect.gen(function* () {
      if (flags.all === Option.isSome(flags.pool))
        return yield* new UsageError({ message: flags.all ? "give either a pool or --all, not both" : "give a pool (see skyward ls) or --all" })
      if (Option.isSome(flags.pool)) {
        const named = findPool(flags.pool.value)
        if (named !== undefined) return yield* Console.log(closedLine(yield* closePool(named)))
        return yield* downEc2(flags, flags.pool.value)
      }
      const closed = yield* Effect.forEach(listPools(), closePool, { concurrency: "unbounded" })
      for (const c of closed) yield* Console.log(closedLine(c))
      if (awsConfigured(flags)) yield* downEc2(flags, "all")
      else if (closed.length === 0) yield* Console.log("no named pools were up; EC2 not checked: no AWS region set (--region, AWS_REGION or AWS_PROFILE)")
    })
).pipe(Command.withDescription(DOWN_DESCRIPTION))
