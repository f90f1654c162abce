import { Effect, type Scope } from "effect"
import { AgentLink, type AgentHello } from "./agent-link.js"
import { TransportError, type BootstrapError, type BootstrapPlan, type NodeInfo, type TransportShape } from "@skyward/contracts"
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
}

/** A node whose agent is up and said hello. */
export interface ReadyNode {
  readonly link: AgentLink
  readonly hello: AgentHello
}

const agentArgs = (node: NodeInfo, settings: AgentSettings): string[] => [
  "--node-index", String(node.index),
  "--node-count", String(settings.nodeCount),
  "--executor", settings.executor,
  "--heartbeat-interval", String(settings.heartbeatInterval),
  ...(settings.concurrency === undefined ? [] : ["--concurrency", String(settings.concurrency)]),
  ...(node.cpus === undefined ? [] : ["--cpus", String(node.cpus)]),
  ...settings.taskHooks.flatMap((hook) => ["--task-hook", hook]),
  ...settings.appHooks.flatMap((hook) => ["--app-hook", hook]),
  ...settings.sysPath.flatMap((entry) => ["--sys-path", entry])
]

const waitForHello = (link: AgentLink, node: number, seconds: number) =>
  Effect.async<AgentHello, TransportError>((resume) => {
    const timer = setTimeout(() => link.lost(`no hello from the agent within ${seconds}s`), seconds * 1000)
    link.onHello((hello) => {
      clearTimeout(timer)
      resume(Effect.succeed(hello))
    })
    link.onClose((reason) => {
      clearTimeout(timer)
      const stderr = link.diagnostics.slice(-15).join("\n")
      resume(Effect.fail(new TransportError({ node, message: `node ${node}: ${reason}${stderr ? `\n${stderr}` : ""}` })))
    })
    return Effect.sync(() => clearTimeout(timer))
  })

/** Connects to a node, bootstraps its environment and starts its agent; all released with the scope. */
export const openNode = (
  transport: TransportShape,
  node: NodeInfo,
  plan: BootstrapPlan,
  settings: AgentSettings,
  events: EventHub
): Effect.Effect<ReadyNode, TransportError | BootstrapError, Scope.Scope> =>
  Effect.gen(function* () {
    const session = yield* transport.connect(node)
    const started = Date.now()
    const boot = yield* session.bootstrap(plan, (line) => events.emit({ _tag: "NodeBootstrapping", node: node.index, line }))
    events.emit({ _tag: "NodeBootstrapped", node: node.index, cached: boot.cached, seconds: (Date.now() - started) / 1000 })
    if (boot.workdir) events.emit({ _tag: "WorkdirShipped", node: node.index, ...boot.workdir })
    for (const message of boot.notes ?? []) events.emit({ _tag: "EnvironmentNote", node: node.index, message })
    const channel = yield* session.startAgent({
      python: boot.python,
      pythonPath: boot.pythonPath,
      workDir: boot.workDir,
      args: agentArgs(node, settings),
      env: settings.env
    })
    const link = new AgentLink(node.index, channel)
    const hello = yield* waitForHello(link, node.index, settings.helloTimeout)
    events.emit({ _tag: "NodeReady", node: node.index, slots: hello.slots, pid: hello.pid })
    return { link, hello }
  })
