import net from "node:net"
import type { EC2Client, Instance } from "@aws-sdk/client-ec2"
import { Effect } from "effect"
import type { HostKeyReader } from "./console-host-key.js"
import type { InstanceFailure } from "./errors.js"
import { describeInstances } from "./instances.js"
import type { AddressKind } from "./options.js"

/** Checks once whether SSH answers at an address; fails with the reason it does not (yet). */
export type SshProbe = (host: string, port: number) => Effect.Effect<void, string>

/** Connects to `host:port` and reads the server's `SSH-` banner (5 s per attempt). */
export const bannerProbe: SshProbe = (host, port) =>
  Effect.async<void, string>((resume) => {
    const socket = net.connect({ host, port })
    let settled = false
    const done = (error?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resume(error === undefined ? Effect.void : Effect.fail(error))
    }
    const timer = setTimeout(() => done("no SSH banner within 5s"), 5_000)
    let seen = ""
    socket.on("data", (chunk) => {
      seen += chunk.toString("latin1")
      if (seen.startsWith("SSH-")) done()
      else if (seen.length >= 4) done(`not an SSH server (it said ${JSON.stringify(seen.slice(0, 20))})`)
    })
    socket.on("error", (error: Error & { code?: string }) => done(error.code ?? error.message))
    socket.on("close", () => done("connection closed before the SSH banner"))
    return Effect.sync(() => done("interrupted"))
  })

/** A running instance, the address the client uses, and its host key. */
export interface ReadyInstance {
  readonly instanceId: string
  readonly host: string
  /** `ssh-ed25519 AAAA...`, as the instance printed it on its console: what the transport pins. */
  readonly hostKey: string
  readonly privateIp: string | undefined
  readonly publicIp: string | undefined
  readonly availabilityZone: string | undefined
}

const TERMINAL = new Set(["shutting-down", "terminated", "stopping", "stopped"])

/** What the polls learnt about each instance. */
interface Tracker {
  readonly state: Map<string, Instance>
}

/**
 * Polls DescribeInstances (one call for all instances) until every instance is running with an
 * address, or has failed, or `deadline` passes. Returns what it saw per instance.
 */
const pollStates = (ec2: EC2Client, ids: ReadonlyArray<string>, address: AddressKind, deadline: number, pollMs: number) =>
  Effect.gen(function* () {
    const tracker: Tracker = { state: new Map() }
    const settled = (i: Instance | undefined) =>
      i !== undefined && (TERMINAL.has(i.State?.Name ?? "") || (i.State?.Name === "running" && addressOf(i, address) !== undefined))
    for (let attempt = 0; ; attempt++) {
      const seen = yield* describeInstances(ec2, { InstanceIds: [...ids] }).pipe(
        // right after RunInstances an id may not be known yet (eventual consistency)
        Effect.catchIf((e) => e.code === "InvalidInstanceID.NotFound", () => Effect.succeed([] as Instance[])),
        Effect.catchAll(() => Effect.succeed([] as Instance[]))
      )
      for (const i of seen) if (i.InstanceId) tracker.state.set(i.InstanceId, i)
      if (ids.every((id) => settled(tracker.state.get(id))) || Date.now() >= deadline) return tracker
      yield* Effect.sleep(Math.min(backoff(attempt, pollMs), Math.max(0, deadline - Date.now())))
    }
  })

/** Polls start quick (0.5 s) and slow down, doubling, to `pollMs`. */
const backoff = (attempt: number, pollMs: number) => Math.min(pollMs, 500 * 2 ** Math.min(attempt, 10))

/** The address the client uses for an instance. */
export const addressOf = (instance: Instance, address: AddressKind): string | undefined =>
  address === "private" ? instance.PrivateIpAddress : instance.PublicIpAddress

/** Probes SSH until it answers or the deadline passes; the last reason on failure. */
const waitSsh = (probe: SshProbe, host: string, deadline: number, pollMs: number) =>
  Effect.gen(function* () {
    let last = "not tried"
    for (let attempt = 0; ; attempt++) {
      const result = yield* probe(host, 22).pipe(Effect.either)
      if (result._tag === "Right") return undefined
      last = result.left
      if (Date.now() >= deadline) return last
      yield* Effect.sleep(Math.min(backoff(attempt, pollMs), Math.max(0, deadline - Date.now())))
    }
  })

/** Reads the console until it shows the host key or the deadline passes; the key, or why there is none. */
const waitHostKey = (
  read: HostKeyReader,
  instanceId: string,
  deadline: number,
  pollMs: number,
  seconds: number
): Effect.Effect<{ readonly key: string } | { readonly reason: string }> =>
  Effect.gen(function* () {
    for (let attempt = 0; ; attempt++) {
      const seen = yield* read(instanceId).pipe(Effect.either)
      if (seen._tag === "Left") return { reason: `cannot read its console output for its SSH host key: ${seen.left.message}` }
      if (seen.right._tag === "Found") return { key: seen.right.key }
      if (seen.right._tag === "Ambiguous")
        return { reason: `its console output shows ${seen.right.keys.length} different ed25519 host keys, so none is trusted` }
      if (Date.now() >= deadline)
        return { reason: `its console output showed no SSH host key within ${seconds}s (cloud-init prints it once the instance has booted)` }
      yield* Effect.sleep(Math.min(backoff(attempt, pollMs), Math.max(0, deadline - Date.now())))
    }
  })

/**
 * Waits, within `timeoutMs` in all, for the instances to be running, SSH to answer on each, and
 * each one's console output to show its host key. Returns the ready instances in the order
 * given, or the failures (index, instance, why).
 */
export const waitReady = (
  ec2: EC2Client,
  launched: ReadonlyArray<{ readonly index: number; readonly instanceId: string }>,
  options: {
    readonly address: AddressKind
    readonly timeoutMs: number
    readonly pollMs: number
    readonly probe: SshProbe
    readonly readHostKey: HostKeyReader
  }
): Effect.Effect<{ readonly ready: ReadonlyArray<ReadyInstance>; readonly failures: ReadonlyArray<InstanceFailure> }> =>
  Effect.gen(function* () {
    const deadline = Date.now() + options.timeoutMs
    const seconds = Math.round(options.timeoutMs / 1000)
    const tracker = yield* pollStates(ec2, launched.map((l) => l.instanceId), options.address, deadline, options.pollMs)
    const outcomes = yield* Effect.forEach(
      launched,
      ({ index, instanceId }) =>
        Effect.gen(function* () {
          const fail = (reason: string) => ({ failure: { index, instanceId, reason } })
          const instance = tracker.state.get(instanceId)
          const state = instance?.State?.Name
          if (instance === undefined) return fail(`EC2 never reported it within ${seconds}s`)
          if (state !== "running") {
            const why = instance.StateReason?.Message ?? instance.StateTransitionReason
            return fail(TERMINAL.has(state ?? "") ? `it went ${state}${why ? ` (${why})` : ""}` : `still ${state} after ${seconds}s`)
          }
          const host = addressOf(instance, options.address)
          if (host === undefined)
            return fail(
              options.address === "public"
                ? "it has no public address (use a subnet that assigns public IPs, or address: \"private\" from inside the VPC)"
                : "it has no private address"
            )
          const sshFailure = yield* waitSsh(options.probe, host, deadline, options.pollMs)
          if (sshFailure !== undefined) return fail(`SSH on ${host}:22 did not answer within ${seconds}s (last: ${sshFailure})`)
          const hostKey = yield* waitHostKey(options.readHostKey, instanceId, deadline, options.pollMs, seconds)
          if ("reason" in hostKey) return fail(hostKey.reason)
          return {
            ready: {
              instanceId,
              host,
              hostKey: hostKey.key,
              privateIp: instance.PrivateIpAddress,
              publicIp: instance.PublicIpAddress,
              availabilityZone: instance.Placement?.AvailabilityZone
            }
          }
        }),
      { concurrency: "unbounded" }
    )
    const ready: ReadyInstance[] = []
    const failures: InstanceFailure[] = []
    for (const outcome of outcomes) {
      if ("ready" in outcome) ready.push(outcome.ready)
      else failures.push(outcome.failure)
    }
    return { ready, failures }
  })
