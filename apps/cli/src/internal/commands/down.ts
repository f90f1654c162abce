import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { UsageError } from "../errors.js"
import { asCliError, connectionOf, loadAws } from "./aws-connection.js"
import { entry, optionsOf } from "../option-table.js"
import { AWS_CONNECTION_TABLE } from "./run-options.js"
import { exitCode } from "./run.js"

/** The options of `skyward down` (help and docs show them in this order). */
export const DOWN_OPTION_TABLE = {
  ...AWS_CONNECTION_TABLE,
  all: entry("options", Options.boolean("all").pipe(Options.withDescription("Remove every Skyward-tagged resource of the region.")))
}

/** What `skyward down` does. */
export const DOWN_DESCRIPTION = "Remove Skyward-tagged EC2 resources left in a region: one pool's, or all (--all)."

/** The pool argument's description. */
export const POOL_ID_DESCRIPTION = "The pool to remove (see skyward ls)."

/** `skyward down <pool> | --all`: removes Skyward-tagged resources (instances, then groups, then key pairs). */
export const downCommand = Command.make(
  "down",
  {
    ...optionsOf(DOWN_OPTION_TABLE),
    pool: Args.text({ name: "pool-id" }).pipe(Args.withDescription(POOL_ID_DESCRIPTION), Args.optional)
  },
  (flags) =>
    Effect.gen(function* () {
      if (flags.all === Option.isSome(flags.pool))
        return yield* new UsageError({ message: flags.all ? "give either a pool id or --all, not both" : "give a pool id (see skyward ls) or --all" })
      const { removeResources } = yield* loadAws
      const target = flags.all ? "all" : Option.getOrThrow(flags.pool)
      const { removed, failed, region } = yield* removeResources(connectionOf(flags), target).pipe(Effect.mapError(asCliError))
      for (const r of removed) yield* Console.log(`removed ${r.kind} ${r.id} (pool ${r.pool})`)
      for (const f of failed) yield* Console.error(`could not remove ${f.resource.kind} ${f.resource.id} (pool ${f.resource.pool}): ${f.message}`)
      if (removed.length === 0 && failed.length === 0)
        yield* Console.log(target === "all" ? `no Skyward resources in ${region}` : `nothing of pool ${target} in ${region}`)
      if (failed.length > 0) exitCode.value = 1
    })
).pipe(Command.withDescription(DOWN_DESCRIPTION))
