import { Deferred, Effect, ExecutionStrategy, Exit, Scope } from "effect"
import { AgentLink, type AgentHello, type Traffic } from "./agent-link.js"
import {
  TransportError,
  type BootstrapError,
  type BootstrapPlan,
  type NodeInfo,
  type ProviderError,
  type TransportShape,
  type Volume
} from "@skyward/contracts"
import { isS3, nodeVolumes } from "./volumes.js"
import type { EventHub } from "./event-hub.js"

/** How agents are started on every node. */
export interface AgentSettings {
  readonly nodeCount: number
  readonly concurrency: number | undefined
  readonly executor: "process" | "thread"
  readonly taskHooks: ReadonlyArray<string>
  readonly appHooks: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  /** Seconds allowed from agent start to its hello. */
  readonly helloTimeout: number
  /** Seconds between the agent's heartbeats (a fraction of the pool's `heartbeatTimeout`). */
  readonly heartbeatInterval: number
  /** Folders first on the workers' `sys.path` (relative to the work folder). */
  readonly sysPath: ReadonlyArray<string>
  /** Bytes of blobs an agent keeps, and the most one task may refer to (the pool's `argumentLimit`). */
  readonly maxBlobBytes: number
  /** The pool's volumes; folder volumes are read in place by nodes on this machine (`volumesInPlace`), copied to others. */
  readonly volumes: ReadonlyArray<Volume>
  readonly volumesInPlace: boolean
  /** What a node's agent needs in its environment to reach the S3 volumes (short-lived credentials...). */
  readonly volumeEnv: (node: NodeInfo) => Effect.Effect<Readonly<Record<string, string>>, ProviderError>
  /** Where the pool counts what crosses to and from its nodes. */
  readonly traffic: Traffic
}

/** A node whose agent is up and said hello. */
export interface ReadyNode {
  readonly link: AgentLink
  readonly hello: AgentHello
}

const agentArgs = (node: NodeInfo, settings: AgentSettings, volumes: ReadonlyArray<Volume>): string[] => [
  "--node-index", String(node.index),
  // an elastic pool never reuses an index (a replaced node's new one is above max): the count covers it
  "--node-count", String(Math.max(settings.nodeCount, node.index + 1)),
  "--executor", settings.executor,
  "--heartbeat-interval", String(settings.heartbeatInterval),
  "--max-blob-bytes", String(settings.maxBlobBytes),
  ...(settings.concurrency === undefined ? [] : ["--concurrency", String(settings.concurrency)]),
  ...(node.cpus === undefined ? [] : ["--cpus", String(node.cpus)]),
  ...settings.taskHooks.flatMap((hook) => ["--task-hook", hook]),
  ...settings.appHooks.flatMap((hook) => ["--app-hook", hook]),
  ...settings.sysPath.flatMap((entry) => ["--sys-path", entry]),
  ...volumes.flatMap((volume) => ["--volume", JSON.stringify(volume)])
]

const waitForHello = (link: AgentLink, node: number, seconds: number) =>
  Effect.async<AgentHello, TransportError>((resume) => {
    let waiting = true
    const timer = setTimeout(() => link.lost(`no hello from the agent within ${seconds}s`), seconds * 1000)
    link.onHello((hello) => {
      waiting = false
      clearTimeout(timer)
      resume(Effect.succeed(hello))
    })
    link.onClose((reason) => {
      if (!waiting) return // lost after its hello: the scheduler's business
      clearTimeout(timer)
      const stderr = link.diagnostics.slice(-15).join("\n")
      resume(Effect.fail(new TransportError({ node, message: `node ${node}: ${reason}${stderr ? `\n${stderr}` : ""}` })))
    })
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Ends a lost agent at once, through its scope (the transport's stop: its input closed, then its
 * processes killed), rather than when the pool closes: a node declared lost (silent, say) must not
 * run on beside the pool, nor come back to life later. The pool's closing waits for a stop under way.
 */
const endWhenLost = (link: AgentLink, agentScope: Scope.CloseableScope) =>
  Effect.gen(function* () {
    const lost = yield* Deferred.make<void>()
    link.onClose(() => Deferred.unsafeDone(lost, Exit.void))
    yield* Effect.forkScoped(Effect.zipRight(Deferred.await(lost), Effect.uninterruptible(Scope.close(agentScope, Exit.void))))
  })

/**
 * Connects to a node, bootstraps its environment and starts its agent; all released with the scope.
 * `join` (a node added to an open pool) puts it to work before `NodeReady` says so, so whoever hears
 * that event sees its slots in the pool.
 */
export const openNode = (
  transport: TransportShape,
  node: NodeInfo,
  plan: BootstrapPlan,
  settings: AgentSettings,
  events: EventHub,
  join?: (ready: ReadyNode) => void
): Effect.Effect<ReadyNode, TransportError | BootstrapError, Scope.Scope> =>
  Effect.gen(function* () {
    const session = yield* transport.connect(node)
    const started = Date.now()
    const boot = yield* session.bootstrap(plan, (line) => events.emit({ _tag: "NodeBootstrapping", node: node.index, line }))
    events.emit({ _tag: "NodeBootstrapped", node: node.index, cached: boot.cached, seconds: (Date.now() - started) / 1000 })
    if (boot.workdir) {
      events.emit({ _tag: "WorkdirShipped", node: node.index, ...boot.workdir })
      settings.traffic.sentBytes += boot.workdir.sentBytes
    }
    for (const message of boot.notes ?? []) events.emit({ _tag: "EnvironmentNote", node: node.index, message })
    const volumes = yield* nodeVolumes(session, settings, (line) => events.emit({ _tag: "NodeBootstrapping", node: node.index, line }))
    const volumeEnv = settings.volumes.some(isS3)
      ? yield* settings.volumeEnv(node).pipe(Effect.mapError((e) => new TransportError({ node: node.index, message: `node ${node.index}: ${e.message}` })))
      : {}
    // the agent has a scope of its own, within the pool's: losing the node closes it
    const agentScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const channel = yield* Scope.extend(
      session.startAgent({
        python: boot.python,
        pythonPath: boot.pythonPath,
        workDir: boot.workDir,
        args: agentArgs(node, settings, volumes),
        env: { ...settings.env, ...volumeEnv }
      }),
      agentScope
    )
    const link = new AgentLink(node.index, channel, settings.traffic)
    link.onEarlyLog((line) => events.emit({ _tag: "Log", node: node.index, stream: "agent", line }))
    yield* endWhenLost(link, agentScope)
    const hello = yield* waitForHello(link, node.index, settings.helloTimeout)
    join?.({ link, hello })
    events.emit({ _tag: "NodeReady", node: node.index, slots: hello.slots, pid: hello.pid })
    return { link, hello }
  })
