import path from "node:path"
import { BootstrapError, type BootstrapPlan, mirroredPip, type NodeInfo } from "@skyward/contracts"
import { installRequirements, runDroppingUnavailable } from "@skyward/worker"
import { Effect } from "effect"
import type { RemoteBootstrapOptions } from "./bootstrap-options.js"
import type { SshConnection } from "./connect.js"
import type { ExecResult } from "./exec.js"
import type { HostFacts } from "./host-probe.js"
import { localWheelOf, localWheelPlace, remoteRequirement } from "./local-wheels.js"
import { ENV_SCRIPT } from "./remote-scripts.js"
import { runRemotePython } from "./remote-python.js"
import { putMissing, type Sftp } from "./sftp.js"
import { ensureWheelhouse, linuxPlatforms, type WheelPlatform } from "./wheelhouse.js"

/** A node's Python environment. */
export interface RemoteEnvironment {
  /** True when it already existed. */
  readonly cached: boolean
  /** The mirrored requirements it was made without (no distribution for the node). */
  readonly dropped: ReadonlyArray<string>
}

/** What making a node's environment needs. */
export interface EnvironmentRequest {
  readonly connection: SshConnection
  readonly sftp: Sftp
  readonly node: NodeInfo
  readonly plan: BootstrapPlan
  readonly facts: HostFacts
  readonly options: RemoteBootstrapOptions
  /** The environment's folder on the host. */
  readonly envDir: string
  readonly onLine: (line: string) => void
}

const lastErrorLine = (tail: string): string =>
  tail
    .split("\n")
    .reverse()
    .find((line) => /error/i.test(line) && !line.startsWith("SKYWARD-"))
    ?.trim() ?? "see the output above"

/** The error that says why ENV_SCRIPT failed (apt, venv or pip) and what would fix it. */
const envFailure = (request: EnvironmentRequest, built: ExecResult): BootstrapError => {
  const { connection, node, plan, options } = request
  const where = connection.label
  const fail = (message: string) => new BootstrapError({ node: node.index, message, output: built.tail })
  const apt = plan.image.apt.join(" ")
  if (built.stdout.includes("SKYWARD-FAIL apt-root"))
    return fail(`image.apt (${apt}) needs root or sudo on node ${node.index} (${where}), and ${connection.user} is not root and has no sudo`)
  if (built.stdout.includes("SKYWARD-FAIL apt"))
    return fail(
      `apt-get install ${apt} failed on node ${node.index} (${where}): ${lastErrorLine(built.tail)} ` +
        `(image.apt needs root or passwordless sudo, and a reachable package mirror)`
    )
  const stage = built.stdout.includes("SKYWARD-FAIL venv") ? "python -m venv" : "pip install"
  const hint = stage === "pip install" && options.install === "index" ? ' (with install: "index" the node itself must reach the package index)' : ""
  return fail(`${stage} failed on node ${node.index} (${where}): ${lastErrorLine(built.tail)}${hint}`)
}

const channelFailure = (request: EnvironmentRequest) => (e: { message: string }) =>
  new BootstrapError({ node: request.node.index, message: `node ${request.node.index} (${request.connection.label}): ${e.message}`, output: "" })

/** Runs ENV_SCRIPT with `spec`, its own lines (SKYWARD-...) kept from `onLine`. */
const runEnvScript = (request: EnvironmentRequest, spec: Record<string, unknown>) =>
  runRemotePython(request.connection, request.plan.image.python, ENV_SCRIPT, { env: request.envDir, apt: request.plan.image.apt, ...spec }, (line) => {
    if (!line.startsWith("SKYWARD-")) request.onLine(line)
  }).pipe(Effect.mapError(channelFailure(request)))

/**
 * Wheelhouse mode: the client downloads (once per Image and platform) every wheel the node needs,
 * uploads those the host lacks, and the node installs them with no index. Mirrored requirements
 * with no wheel for the node were left out of the wheelhouse.
 */
const fromWheelhouse = (request: EnvironmentRequest) =>
  Effect.gen(function* () {
    const { connection, node, plan, facts, onLine } = request
    const pyTag = `${facts.version[0]}${facts.version[1]}`
    const platforms = linuxPlatforms(facts.machine, facts.libc)
    const platform: WheelPlatform = { pythonVersion: `${facts.version[0]}.${facts.version[1]}`, abi: `cp${pyTag}`, platforms, key: platforms[0]! }
    const wheelhouse = yield* ensureWheelhouse(plan.image, plan.imageHash, platform, `node ${node.index} (${connection.label})`, onLine).pipe(
      Effect.mapError((e) => new BootstrapError({ node: node.index, message: e.message, output: e.output }))
    )
    const wheels = path.posix.join(facts.root, "wheels")
    const all = [...wheelhouse.files, ...(wheelhouse.files.includes(wheelhouse.runner) ? [] : [wheelhouse.runner])]
    yield* putMissing(
      request.sftp,
      wheels,
      all.map((f) => ({ local: path.join(wheelhouse.dir, f), remote: f })),
      (missing) => missing.length > 0 && onLine(`uploading ${missing.length} of ${all.length} wheels to ${connection.label}`)
    ).pipe(Effect.mapError(channelFailure(request)))
    const requirements = installRequirements(plan.image).filter((r) => !wheelhouse.dropped.includes(r))
    const built = yield* runEnvScript(request, { mode: "wheelhouse", wheels, files: wheelhouse.files, runner: wheelhouse.runner, requirements, dropped: wheelhouse.dropped })
    return { built, dropped: wheelhouse.dropped }
  })

/**
 * Index mode: the node runs pip against the Image's indexes itself. The mirror's local wheels are
 * uploaded first (under `wheels/local/<hash>/`) and required from there; a mirrored requirement pip
 * finds no distribution of on the node is left out and pip runs again.
 */
const fromIndex = (request: EnvironmentRequest) =>
  Effect.gen(function* () {
    const { plan, facts } = request
    const wheelsDir = path.posix.join(facts.root, "wheels")
    const locals = installRequirements(plan.image).flatMap((r) => localWheelOf(r) ?? [])
    const places = yield* Effect.forEach(locals, (wheel) => localWheelPlace(wheel.file)).pipe(Effect.mapError(channelFailure(request)))
    if (locals.length > 0)
      yield* putMissing(request.sftp, wheelsDir, locals.map((wheel, i) => ({ local: wheel.file, remote: places[i]! }))).pipe(Effect.mapError(channelFailure(request)))
    const onNode = new Map(locals.map((wheel, i) => [wheel.requirement, remoteRequirement(wheel, path.posix.join(wheelsDir, places[i]!))]))
    const mirrored = mirroredPip(plan.image)
    const { attempt: built, dropped } = yield* runDroppingUnavailable(plan.image, (requirements) =>
      runEnvScript(request, {
        mode: "index",
        indexes: plan.image.pipIndexes,
        requirements: requirements.map((r) => onNode.get(r) ?? r),
        dropped: mirrored.filter((r) => !requirements.includes(r))
      })
    )
    return { built, dropped }
  })

/**
 * Makes (once) the node's environment at `envDir`, or finds it made: in wheelhouse mode from wheels
 * the client ships, in index mode by the node's own pip.
 */
export const ensureRemoteEnvironment = (request: EnvironmentRequest): Effect.Effect<RemoteEnvironment, BootstrapError> =>
  Effect.gen(function* () {
    if (request.facts.envReady) return { cached: true, dropped: request.facts.dropped }
    const { built, dropped } = yield* request.options.install === "wheelhouse" ? fromWheelhouse(request) : fromIndex(request)
    if (built.code !== 0) return yield* envFailure(request, built)
    return { cached: built.stdout.includes("SKYWARD-ENV cached"), dropped }
  })
