import { Context, Effect, Exit, Layer, Runtime, Scope } from "effect"
import type {
  Cluster,
  ComputePoolShape,
  PoolError,
  PoolEventListener,
  PoolOptions,
  PoolOptionsInput,
  TaskCallbacks,
  TaskOptions,
  TaskOutcome,
  TaskSpec
} from "@skyward/contracts"
import { makeComputePool } from "./pool.js"

/** The pool as Promise users see it (`ComputePool.use`). Failures reject with the tagged errors. */
export interface PromisePool {
  readonly cluster: Cluster
  readonly totalSlots: number
  /** An elastic pool's fewest and most nodes; undefined for a fixed count. */
  readonly elastic: ComputePoolShape["elastic"]
  /** Bytes the client sent to its nodes and received from them so far (see `ComputePoolShape.traffic`). */
  readonly traffic: ComputePoolShape["traffic"]
  readonly client: ComputePoolShape["client"]
  readonly submit: (payload: Uint8Array, options?: TaskOptions) => Promise<TaskOutcome>
  /**
   * Calls `fn` ("module:function" on the workers) once with `args` (CBOR-encodable) and resolves to
   * its result; a Python exception rejects with a `RemoteError` carrying the remote traceback.
   */
  readonly call: <A = unknown>(fn: string, args?: ReadonlyArray<unknown>, options?: TaskOptions) => Promise<A>
  /** Calls `fn` ("module:function" on the workers) on every input; results in input order. */
  readonly map: <A = unknown>(fn: string, inputs: Iterable<unknown>, options?: TaskOptions) => Promise<A[]>
  readonly dispatch: (spec: TaskSpec, callbacks: TaskCallbacks) => number
  readonly putBlob: ComputePoolShape["putBlob"]
  readonly missingBlobs: ComputePoolShape["missingBlobs"]
  readonly cancel: (id: number) => void
  readonly subscribe: (listener: PoolEventListener) => () => void
  /** The Effect-style pool underneath. */
  readonly effect: ComputePoolShape
}

/** Fails with the error itself (not a FiberFailure) so `instanceof` and `_tag` work for Promise users. */
const runPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : Runtime.makeFiberFailure(exit.cause)
    throw failure
  })

const toPromisePool = (pool: ComputePoolShape): PromisePool => ({
  cluster: pool.cluster,
  get totalSlots() {
    return pool.totalSlots
  },
  elastic: pool.elastic,
  get traffic() {
    return pool.traffic
  },
  client: pool.client,
  submit: (payload, options) => runPromise(pool.submit(payload, options)),
  call: (fn, args, options) => runPromise(pool.call(fn, args, options)),
  map: (fn, inputs, options) => runPromise(pool.map(fn, inputs, options)),
  dispatch: pool.dispatch,
  putBlob: pool.putBlob,
  missingBlobs: pool.missingBlobs,
  cancel: pool.cancel,
  subscribe: pool.subscribe,
  effect: pool
})

/**
 * The pool service. In Effect: `ComputePool.layer(options)` and `yield* ComputePool`.
 * With Promises: `await ComputePool.use(options, async (pool) => ...)`.
 */
export class ComputePool extends Context.Tag("@skyward/core/ComputePool")<ComputePool, ComputePoolShape>() {
  /** A layer that opens the pool when built and closes it with its scope (it logs as `use` does). */
  static layer(options: PoolOptionsInput | PoolOptions, listener?: PoolEventListener): Layer.Layer<ComputePool, PoolError> {
    return Layer.scoped(ComputePool, makeComputePool(options, listener))
  }

  /**
   * Opens a pool, runs `body`, then closes the pool (also when `body` throws). The pool logs on
   * stderr as `skyward run` does unless the option `log` says otherwise (`false`, or a stream).
   */
  static async use<A>(
    options: PoolOptionsInput | PoolOptions,
    body: (pool: PromisePool) => Promise<A>,
    listener?: PoolEventListener
  ): Promise<A> {
    const scope = Effect.runSync(Scope.make())
    try {
      const pool = await runPromise(Scope.extend(makeComputePool(options, listener), scope))
      return await body(toPromisePool(pool))
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

