import { randomBytes } from "node:crypto"
import { Context, Effect, Either, ExecutionStrategy, Layer, Scope, Stream } from "effect"
import { codecModules } from "@skyward/codec"
import { local } from "@skyward/provider-local"
import {
  ConfigError,
  imageHash,
  nodeRange,
  Provider,
  Transport,
  validatePoolOptions,
  type BootstrapPlan,
  type Cluster,
  type ClusterSpec,
  type ComputePoolShape,
  type Image,
  type NodeInfo,
  type Plugin,
  type PoolError,
  type PoolEvent,
  type PoolEventListener,
  type PoolOptions,
  type PoolOptionsInput,
  type PythonModuleDir,
  type TaskCallbacks,
  type TaskError,
  type TaskOptions,
  type TaskOutcome,
  type TaskSpec,
  type WorkdirSnapshot
} from "@skyward/contracts"
import { agentModules } from "@skyward/worker"
import { BlobStore } from "./blob-store.js"
import { checkPluginCompatibility } from "./compatibility.js"
import { runElastic } from "./elastic.js"
import { EventHub } from "./event-hub.js"
import { heartbeatInterval, heartbeatWatch } from "./heartbeat-watch.js"
import { poolLog } from "./log/pool-log.js"
import { openNode, type ReadyNode } from "./open-nodes.js"
import { checkVolumes, isS3, S3_CLIENT_REQUIREMENT } from "./volumes.js"
import { Scheduler } from "./scheduler.js"
import { snapshotWorkdir } from "./workdir/snapshot.js"

/** Bytes of blobs no pending task refers to that the pool keeps for later tasks. */
const BLOB_BUDGET_BYTES = 2 * 1024 ** 3

/** Pins a task's blobs until its callbacks fire. */
const pinned = (store: BlobStore, hashes: ReadonlyArray<string>, callbacks: TaskCallbacks): TaskCallbacks => {
  store.pin(hashes)
  return {
    ...callbacks,
    onDone: (outcome) => {
      store.unpin(hashes)
      callbacks.onDone(outcome)
    },
    onFailed: (error) => {
      store.unpin(hashes)
      callbacks.onFailed(error)
    }
  }
}

const newClusterId = () => `sky-${randomBytes(4).toString("hex")}`

/** The Image with the S3 client the nodes' agents fetch S3 volumes with, when there is one. */
const withS3Client = (image: Image, volumes: PoolOptions["volumes"]): Image =>
  volumes.some(isS3) && !image.pip.some((req) => req.startsWith(S3_CLIENT_REQUIREMENT)) ? { ...image, pip: [...image.pip, S3_CLIENT_REQUIREMENT] } : image

const applyImagePlugins = (plugins: ReadonlyArray<Plugin>, image: Image, spec: ClusterSpec): Image =>
  plugins.reduce((acc, plugin) => plugin.image?.(acc, spec) ?? acc, image)

/** Plugins that build on each other (sklearn on joblib) may ship the same folder: ship it once. */
const uniqueModules = (modules: ReadonlyArray<PythonModuleDir>): PythonModuleDir[] =>
  modules.filter((m, i) => modules.findIndex((o) => o.name === m.name && o.path === m.path) === i)

const makePlan = (options: PoolOptions, image: Image, cluster: Cluster, workdir: WorkdirSnapshot | undefined): BootstrapPlan => ({
  image,
  imageHash: imageHash(image),
  ops: options.plugins.flatMap((plugin) => plugin.bootstrap?.(cluster) ?? []),
  modules: uniqueModules([agentModules(), codecModules(), ...options.plugins.flatMap((plugin) => plugin.python?.modules ?? [])]),
  ...(workdir ? { workdir } : {})
})

const awaitTask = (scheduler: Scheduler, spec: TaskSpec) =>
  Effect.async<TaskOutcome, TaskError>((resume) => {
    const id = scheduler.submit(spec, {
      onDone: (outcome) => resume(Effect.succeed(outcome)),
      onFailed: (error) => resume(Effect.fail(error))
    })
    return Effect.sync(() => scheduler.cancel(id, "interrupted"))
  })

/** The task that calls `fn` ("module:function") with `args`: what `call` runs once and `map` once per input. */
const callSpec = (fn: string, args: ReadonlyArray<unknown>, options: TaskOptions): TaskSpec => ({
  kind: "call",
  fn,
  args,
  ...(options.timeout === undefined ? {} : { timeout: options.timeout })
})

const mapAll = <A>(scheduler: Scheduler, fn: string, inputs: Iterable<unknown>, options: TaskOptions) =>
  Effect.async<A[], TaskError>((resume) => {
    const items = [...inputs]
    const results = new Array<A>(items.length)
    const ids: number[] = []
    let remaining = items.length
    let failed = false
    const cancelAll = () => ids.forEach((id) => scheduler.cancel(id, "another task of the map failed"))
    if (remaining === 0) return resume(Effect.succeed(results))
    items.forEach((input, index) => {
      ids.push(
        scheduler.submit(
          callSpec(fn, [input], options),
          {
            onDone: (outcome) => {
              results[index] = outcome.value as A
              if (--remaining === 0 && !failed) resume(Effect.succeed(results))
            },
            onFailed: (error) => {
              if (failed) return // the rest were cancelled by the first failure
              failed = true
              cancelAll()
              resume(Effect.fail(error))
            }
          }
        )
      )
    })
    return Effect.sync(cancelAll)
  })

/**
 * Opens a pool in the current scope: validates the options, provisions the nodes, bootstraps them,
 * starts their agents and runs the plugins' client set-up. Closing the scope releases all of it,
 * in reverse order, whether the work succeeded, failed or was interrupted.
 */
export const makeComputePool = (
  input: PoolOptionsInput | PoolOptions,
  listener?: PoolEventListener
): Effect.Effect<ComputePoolShape, PoolError, Scope.Scope> =>
  Effect.gen(function* () {
    const validated = validatePoolOptions(input)
    if (Either.isLeft(validated)) return yield* validated.left
    const options = validated.right
    for (const plugin of options.plugins) {
      const incompatible = checkPluginCompatibility(plugin)
      if (incompatible) return yield* incompatible
    }
    const events = new EventHub()
    if (options.log !== false) yield* poolLog(events, options.log === true ? process.stderr : options.log)
    if (listener) events.subscribe(listener)
    // a working directory over the limit stops the pool before any machine exists
    const workdir = options.workdir === false ? undefined : yield* snapshotWorkdir(options.workdir, options.workdirLimit, [], options.workdirExclude)
    const provider = options.provider ?? local()
    const context = yield* Layer.build(provider.layer)
    const { prepare, provision, addNode } = Context.get(context, Provider)
    const transport = Context.get(context, Transport)
    const range = nodeRange(options.nodes)
    const elastic = typeof options.nodes !== "number"
    if (elastic && addNode === undefined)
      return yield* new ConfigError({
        field: "nodes",
        message: `nodes: the ${provider.name} provider cannot add nodes to an open pool, so its pools cannot be elastic; give nodes a count`
      })

    const spec: ClusterSpec = {
      id: newClusterId(),
      provider: provider.name,
      nodes: range.min,
      maxNodes: range.max,
      concurrency: options.worker.concurrency,
      executor: options.worker.executor,
      volumes: options.volumes
    }
    yield* checkVolumes(options.volumes, provider.name, options.volumeAccess)
    const image = withS3Client(applyImagePlugins(options.plugins, options.image, spec), options.volumes)
    yield* prepare({ spec, image })
    const provisionStarted = Date.now()
    const provisioned = yield* provision({ spec, image })
    /** The pool's nodes now: those provisioned, then those an elastic pool adds, less those it lost or removed. */
    const nodes = new Map<number, NodeInfo>(provisioned.nodes.map((node) => [node.index, node]))
    const cluster: Cluster = {
      id: provisioned.id,
      provider: provisioned.provider,
      get nodes() {
        return [...nodes.values()]
      }
    }
    for (const node of provisioned.nodes) events.emit({ _tag: "NodeProvisioned", node: node.index, address: node.address })

    const plan = makePlan(options, image, provisioned, workdir)
    const traffic = { sentBytes: 0, receivedBytes: 0 }
    const settings = {
      nodeCount: range.max,
      concurrency: options.worker.concurrency,
      executor: options.worker.executor,
      taskHooks: options.plugins.flatMap((p) => (p.python?.task ? [p.python.task] : [])),
      appHooks: options.plugins.flatMap((p) => (p.python?.app ? [p.python.app] : [])),
      env: image.env,
      // an agent fetches its S3 volumes before its hello (its progress shows meanwhile)
      helloTimeout: options.volumes.some(isS3) ? 3600 : 120,
      heartbeatInterval: heartbeatInterval(options.heartbeatTimeout),
      sysPath: options.sysPath,
      maxBlobBytes: options.argumentLimit,
      volumes: options.volumes,
      volumesInPlace: provider.name === "local",
      volumeEnv: (node: NodeInfo) => options.volumeAccess?.env(node) ?? Effect.succeed({}),
      traffic
    }
    const ready = yield* Effect.forEach(provisioned.nodes, (node) => openNode(transport, node, plan, settings, events), {
      concurrency: "unbounded"
    })
    const readySeconds = (Date.now() - provisionStarted) / 1000

    const scheduler = new Scheduler({ retries: options.retries, events, ...(options.timeout === undefined ? {} : { timeout: options.timeout }) })
    // a blob as large as the limit stays for the next task that needs it
    const blobs = new BlobStore(Math.max(BLOB_BUDGET_BYTES, options.argumentLimit))
    const links = ready.map((node) => node.link)
    // nodes an elastic pool adds end after the scheduler closed (finalizers run last to first)
    const addedNodes = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.parallel)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        scheduler.close("the pool closed")
        for (const link of links) link.shutdown("the pool closed")
      })
    )
    /** Puts a ready node to work. */
    const join = ({ link, hello }: ReadyNode) => {
      link.attach(scheduler, hello.slots, blobs, (hash, bytes) => events.emit({ _tag: "BlobSent", node: link.index, hash, bytes }))
      link.onClose((reason) => {
        // out of the cluster first: whoever hears NodeLost sees the pool without it
        nodes.delete(link.index)
        scheduler.nodeLost(link.index, reason)
      })
      link.onStats((stats) => events.emit({ _tag: "NodeStats", node: link.index, ...stats }))
      scheduler.addNode(link)
      if (link.isClosed) scheduler.nodeLost(link.index, "the agent exited")
    }
    for (const node of ready) join(node)
    yield* Effect.forkScoped(heartbeatWatch(links, options.heartbeatTimeout))
    if (elastic)
      yield* Effect.forkScoped(
        runElastic({
          ...range,
          scaleDownAfter: options.scaleDownAfter,
          readySeconds,
          firstIndex: Math.max(-1, ...provisioned.nodes.map((node) => node.index)) + 1,
          slotsPerNode: ready[0]?.hello.slots ?? 1,
          scheduler,
          events,
          nodesScope: addedNodes,
          add: (index) =>
            Effect.gen(function* () {
              const node = yield* addNode!({ spec, image, index, nodes: cluster.nodes })
              // counted as the pool's at once: a node added beside it must not take the same machine
              nodes.set(index, node)
              yield* Effect.addFinalizer(() => Effect.sync(() => nodes.delete(index)))
              events.emit({ _tag: "NodeProvisioned", node: index, address: node.address })
              const added = yield* openNode(transport, node, plan, settings, events, (ready) => {
                links.push(ready.link)
                join(ready)
              })
              yield* Effect.addFinalizer(() => Effect.sync(() => added.link.shutdown("the node was removed")))
              return added.hello.slots
            })
        })
      )

    const attached: Array<() => number> = []
    const client = {
      env: {} as Record<string, string>,
      pythonPath: [] as string[],
      imports: [] as string[],
      attached: () => attached.reduce((sum, count) => sum + count(), 0)
    }
    const pool: ComputePoolShape = {
      cluster,
      get totalSlots() {
        return scheduler.totalSlots
      },
      elastic: elastic ? range : undefined,
      get traffic() {
        return { ...traffic }
      },
      image,
      imageHash: plan.imageHash,
      workdir,
      sysPath: options.sysPath,
      argumentLimit: options.argumentLimit,
      client,
      submit: (payload, taskOptions = {}) => awaitTask(scheduler, { kind: "pickle", payload, ...taskOptions }),
      call: <A>(fn: string, args: ReadonlyArray<unknown> = [], taskOptions: TaskOptions = {}) =>
        Effect.map(awaitTask(scheduler, callSpec(fn, args, taskOptions)), (outcome) => outcome.value as A),
      map: (fn, inputs, taskOptions = {}) => mapAll(scheduler, fn, inputs, taskOptions),
      dispatch: (taskSpec, callbacks) => scheduler.submit(taskSpec, taskSpec.blobs?.length ? pinned(blobs, taskSpec.blobs, callbacks) : callbacks),
      putBlob: (hash, data) => blobs.put(hash, data),
      missingBlobs: (hashes) => blobs.missing(hashes),
      cancel: (id) => scheduler.cancel(id),
      events: Stream.asyncPush<PoolEvent>((emit) =>
        Effect.acquireRelease(
          Effect.sync(() => events.subscribe((event) => void emit.single(event))),
          (unsubscribe) => Effect.sync(unsubscribe)
        )
      ),
      subscribe: (l) => events.subscribe(l)
    }
    for (const plugin of options.plugins) {
      if (!plugin.aroundClient) continue
      const contribution = yield* plugin.aroundClient(pool, cluster)
      if (contribution) {
        Object.assign(client.env, contribution.env ?? {})
        client.pythonPath.push(...(contribution.pythonPath ?? []))
        client.imports.push(...(contribution.imports ?? []))
        if (contribution.attached) attached.push(contribution.attached)
      }
    }
    return pool
  })
