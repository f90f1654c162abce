import os from "node:os"
import { ConfigError, type NodeInfo, Provider, type ProviderDefinition, ProviderError, type ProviderShape } from "@skyward/contracts"
import { loadKey, SshTransportLayer, type SshKey, type SshTarget, type SshTransportOptions } from "@skyward/transport-ssh"
import { Effect, Layer } from "effect"
import { parseHostSpec, type SshHost } from "./hosts.js"

/** Options of the `ssh` provider: the machines, and how to reach and prepare them. */
export interface SshProviderOptions extends Omit<SshTransportOptions, "targetOf"> {
  /** The machines, in node order: objects, or `[user@]host[:port]` strings. */
  readonly hosts: ReadonlyArray<SshHost | string>
  /** Default user for hosts that name none. */
  readonly user?: string
  /** Default key for hosts that name none (a file path, or `{ data }` for an in-memory key). */
  readonly key?: SshKey
  /** Default bastion for hosts that name none. */
  readonly jump?: SshTarget
}

const fail = (message: string, cause?: unknown) => new ProviderError({ provider: "ssh", message, ...(cause === undefined ? {} : { cause }) })

/** The targets of the provider's hosts, defaults applied. */
export const resolveHosts = (options: SshProviderOptions): SshTarget[] =>
  options.hosts.map((entry) => {
    const host = typeof entry === "string" ? parseHostSpec(entry) : entry
    const key = host.key ?? options.key
    const jump = host.jump ?? options.jump
    return {
      host: host.host,
      port: host.port ?? 22,
      user: host.user ?? options.user ?? os.userInfo().username,
      ...(key === undefined ? {} : { key }),
      ...(host.hostKey === undefined ? {} : { hostKey: host.hostKey }),
      ...(jump === undefined ? {} : { jump })
    }
  })

const sameTarget = (a: SshTarget | undefined, b: SshTarget) => a !== undefined && a.host === b.host && a.port === b.port && a.user === b.user

const makeProvider = (options: SshProviderOptions, targets: ReadonlyArray<SshTarget>): ProviderShape => {
  const hostNode = (target: SshTarget, index: number): NodeInfo => ({
    index,
    address: target.host,
    data: { ssh: target, port: target.port, user: target.user, install: options.install ?? "wheelhouse" }
  })
  /** When each host was last taken for a node (a count). */
  const taken = new Map<SshTarget, number>()
  let takenCount = 0
  return {
    name: "ssh",
    prepare: ({ spec }) =>
      Effect.gen(function* () {
        if (targets.length === 0)
          return yield* new ConfigError({ field: "provider", message: "provider: ssh() needs at least one host (hosts: [{ host }])" })
        if (spec.maxNodes > targets.length)
          return yield* new ConfigError({
            field: "nodes",
            message: `nodes: ${spec.maxNodes === spec.nodes ? spec.nodes : `up to ${spec.maxNodes}`} asked, but the ssh provider has only ${targets.length} host${targets.length === 1 ? "" : "s"} (${targets
              .map((t) => t.host)
              .join(", ")}); ask for at most ${targets.length} nodes or add hosts`
          })
        // a missing or unreadable key is found now, not once per node after connecting
        for (const target of targets.slice(0, spec.maxNodes)) {
          yield* loadKey(target.key).pipe(Effect.mapError((e) => new ConfigError({ field: "provider.key", message: `${target.host}: ${e.message}` })))
          if (target.jump) yield* loadKey(target.jump.key).pipe(Effect.mapError((e) => new ConfigError({ field: "provider.jump.key", message: `${target.jump!.host}: ${e.message}` })))
        }
      }),
    provision: ({ spec }) =>
      spec.nodes > targets.length
        ? Effect.fail(fail(`${spec.nodes} nodes asked, but only ${targets.length} hosts were given`))
        : Effect.sync(() => {
            const first = targets.slice(0, spec.nodes)
            for (const target of first) taken.set(target, takenCount++)
            return { id: spec.id, provider: "ssh", nodes: first.map((target, index) => hostNode(target, index)) }
          }),
    addNode: ({ index, nodes }) => {
      // a free host: one no node of the pool is on, the least recently taken first (a host that just
      // failed is tried last)
      const free = targets.filter((target) => !nodes.some((node) => sameTarget(node.data["ssh"] as SshTarget | undefined, target)))
      const target = free.sort((a, b) => (taken.get(a) ?? -1) - (taken.get(b) ?? -1))[0]
      if (target === undefined) return Effect.fail(fail(`no free host for another node: all ${targets.length} are in the pool`))
      taken.set(target, takenCount++)
      return Effect.succeed(hostNode(target, index))
    }
  }
}

/**
 * "Bring your own machines": a provider over a fixed list of SSH hosts, node `i` being
 * `hosts[i]`; an elastic pool (`nodes: { min, max }`, `max` at most the hosts) adds nodes on the
 * hosts it is not using. Nothing is created or destroyed: the pool connects, bootstraps a cached Python
 * environment on each host (shipping wheels from this machine unless `install: "index"`) and
 * runs its agent there.
 *
 * ```ts
 * await ComputePool.use(
 *   { provider: ssh({ hosts: ["10.0.0.5", "ubuntu@10.0.0.6:2222"], key: "~/.ssh/id_ed25519" }), nodes: 2 },
 *   (pool) => pool.map("mymod:work", inputs)
 * )
 * ```
 */
export const ssh = (options: SshProviderOptions): ProviderDefinition => {
  let targets: SshTarget[]
  let parseError: string | undefined
  try {
    targets = resolveHosts(options)
  } catch (error) {
    targets = []
    parseError = (error as Error).message
  }
  const providerLayer = Layer.succeed(Provider, makeProvider(options, targets))
  const transportLayer = SshTransportLayer(options)
  const hostsError = new ConfigError({ field: "provider.hosts", message: `provider.hosts: ${parseError}` })
  return {
    name: "ssh",
    layer: parseError === undefined ? Layer.merge(providerLayer, transportLayer) : Layer.fail(hostsError),
    plan: (nodes) =>
      parseError === undefined
        ? Effect.succeed({ machine: `your hosts ${targets.slice(0, nodes).map((t) => `${t.user ? `${t.user}@` : ""}${t.host}:${t.port ?? 22}`).join(", ")}` })
        : Effect.fail(hostsError)
  }
}
