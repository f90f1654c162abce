import { Args, Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { findPool } from "../named-pools/state.js"
import { poolNotFound } from "../errors.js"

/** What `skyward attach` does. */
export const ATTACH_DESCRIPTION = "Print how to reach a named pool as one JSON line (its bridge's socket and token): for programs such as Python's connect()."

/** The name argument's description. */
export const ATTACH_NAME_DESCRIPTION = "The pool's name (see skyward ls)."

/** `skyward attach <name>`: the connection of a pool `skyward up` made, for a client process. */
export const attachCommand = Command.make("attach", { name: Args.text({ name: "name" }).pipe(Args.withDescription(ATTACH_NAME_DESCRIPTION)) }, ({ name }) =>
  Effect.gen(function* () {
    const pool = findPool(name)
    if (pool === undefined) return yield* poolNotFound(name)
    yield* Console.log(JSON.stringify(pool.record.connection))
  })
).pipe(Command.withDescription(ATTACH_DESCRIPTION))
