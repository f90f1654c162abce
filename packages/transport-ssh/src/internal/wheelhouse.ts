import { randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { pathToFileURL } from "node:url"
import { cacheRoot, findLocalPython, runCommand } from "@skyward/host"
import { type Image, mirroredPip, projectName } from "@skyward/contracts"
import { AGENT_REQUIREMENTS, installRequirements, runDroppingUnavailable, unavailableProject, withPipIndexes } from "@skyward/worker"
import { Data, Effect } from "effect"
import { buildPureWheel } from "./client-wheel.js"
import { localWheelOf, localWheelPlace } from "./local-wheels.js"
import { requirementName } from "./requirement-names.js"

/** Building the client-side wheelhouse failed (no wheel for the platform, pip missing, no index). */
export class WheelhouseError extends Data.TaggedError("WheelhouseError")<{
  readonly message: string
  readonly output: string
}> {}

/** The Python and platform a node runs, as pip's download options name them. */
export interface WheelPlatform {
  /** "3.11" */
  readonly pythonVersion: string
  /** "cp311" */
  readonly abi: string
  /** Most specific first: manylinux_2_36_x86_64, ..., manylinux2014_x86_64, ... */
  readonly platforms: ReadonlyArray<string>
  /** Short name for the cache key and messages (the most specific platform). */
  readonly key: string
}

/** A folder of wheels on the client for one (Image, Python, platform). */
export interface Wheelhouse {
  readonly dir: string
  /** Wheel files to install, exactly, relative to `dir` (a local wheel of the mirror under `local/<hash>/`). */
  readonly files: ReadonlyArray<string>
  /**
   * What runs the install on the node (`python <runner>/pip install ...`): the pip wheel with its
   * bytecode when this machine could compile it for the node's Python (see `compiledRunner`), else
   * the pip wheel itself.
   */
  readonly runner: string
  /** True when it was already built. */
  readonly cached: boolean
  /** Mirrored requirements it lacks: no wheel for the platform, and none could be built on the client. */
  readonly dropped: ReadonlyArray<string>
}

const MANIFEST = "skyward-wheelhouse.json"

/**
 * pip platform tags a Linux host accepts, from its machine and libc: every manylinux_2_N from its
 * glibc down to 2_17 plus the legacy aliases (pip does not expand manylinux_2_N by itself), or
 * musllinux_1_N on musl.
 */
export const linuxPlatforms = (machine: string, libc: readonly [string, string]): string[] => {
  const arch = machine === "arm64" ? "aarch64" : machine
  const [name, version] = libc
  const [major, minor] = version.split(".").map(Number)
  if (name === "glibc" && major === 2 && minor !== undefined && !Number.isNaN(minor)) {
    const tags: string[] = []
    for (let m = minor; m >= 17; m--) tags.push(`manylinux_2_${m}_${arch}`)
    tags.push(`manylinux2014_${arch}`)
    if (arch === "x86_64" || arch === "i686") tags.push(`manylinux_2_12_${arch}`, `manylinux2010_${arch}`, `manylinux_2_5_${arch}`, `manylinux1_${arch}`)
    return tags
  }
  const musl = /^(\d+)\.(\d+)/.exec(version)
  if (name === "" && musl) {
    const tags: string[] = []
    for (let m = Number(musl[2]); m >= 1; m--) tags.push(`musllinux_1_${m}_${arch}`)
    return tags
  }
  return [`linux_${arch}`]
}

const building = new Map<string, Promise<Wheelhouse>>()

/**
 * Writes a copy of the pip wheel `argv[1]` as the zip `argv[2]` with every module's bytecode beside
 * its source (`x.pyc` next to `x.py`, unchecked-hash: the zip never changes), for Python `argv[3]`
 * ("3.11"); exits 3 when this interpreter is another Python. pip runs from that zip on the nodes,
 * and zipimport cannot cache the bytecode it compiles: without it, every run of pip on every node
 * compiles pip's imported modules again (two thirds of a small install's CPU). Where this Python's
 * bytecode does not fit the node's (another release's magic number), zipimport falls back to the
 * source.
 */
const RUNNER_SCRIPT = String.raw`
import importlib.util, marshal, sys, zipfile
src, dst, wanted = sys.argv[1], sys.argv[2], sys.argv[3]
if sys.implementation.name != "cpython" or "%d.%d" % sys.version_info[:2] != wanted:
    sys.exit(3)
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    names = set(zin.namelist())
    for info in zin.infolist():
        data = zin.read(info)
        zout.writestr(info, data)
        name = info.filename
        if name.endswith(".py") and name[:-3] + ".pyc" not in names:
            code = compile(data, name, "exec", dont_inherit=True)
            header = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + importlib.util.source_hash(data)
            zout.writestr(zipfile.ZipInfo(name[:-3] + ".pyc", info.date_time), header + marshal.dumps(code), zipfile.ZIP_DEFLATED)
`

/** The compiled runner's file name in the wheelhouse, for the pip wheel `runner` and the node's `abi`. */
export const compiledRunnerName = (runner: string, abi: string): string => `${runner.replace(/\.whl$/, "")}.${abi}-bytecode.zip`

const compiling = new Map<string, Promise<string>>()

const exists = (file: string) => Effect.promise(() => fs.access(file).then(() => true, () => false))

/**
 * Makes `file` from the pip wheel `wheel` with RUNNER_SCRIPT, once per machine: written to a
 * temporary name and renamed into place, so a pool starting beside this one reads a whole zip or
 * none. False when this machine has no CPython of the node's version, or the script failed.
 */
const compileRunner = (wheel: string, file: string, platform: WheelPlatform): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    if (yield* exists(file)) return true
    const python = yield* Effect.option(findLocalPython(platform.pythonVersion))
    if (python._tag === "None") return false
    yield* Effect.promise(() => fs.mkdir(path.dirname(file), { recursive: true }))
    const tmp = `${file}.tmp-${randomBytes(4).toString("hex")}`
    const made = yield* runCommand(python.value.executable, ["-c", RUNNER_SCRIPT, wheel, tmp, platform.pythonVersion])
    const moved = made.code === 0 && (yield* Effect.promise(() => fs.rename(tmp, file).then(() => true, () => false)))
    yield* Effect.promise(() => fs.rm(tmp, { force: true }))
    return moved
  })

/**
 * The pip the nodes run the install with: the wheel `runner` with its bytecode (see RUNNER_SCRIPT)
 * when this machine has a CPython of the node's version, else the wheel itself. Compiled once per
 * (pip, Python) under `<cache>/runners` for every wheelhouse, every node and every later pool, and
 * linked into the wheelhouse `dir` (the nodes receive a wheelhouse's files). Never fails: a runner
 * that cannot be compiled is only slower.
 */
export const compiledRunner = (dir: string, runner: string, platform: WheelPlatform): Effect.Effect<string> =>
  Effect.suspend(() => {
    const name = compiledRunnerName(runner, platform.abi)
    const file = path.join(dir, name)
    let pending = compiling.get(file)
    if (pending === undefined) {
      const make = Effect.gen(function* () {
        if (yield* exists(file)) return name
        const shared = path.join(cacheRoot(), "runners", name)
        if (!(yield* compileRunner(path.join(dir, runner), shared, platform))) return runner
        const tmp = `${file}.tmp-${randomBytes(4).toString("hex")}`
        const linked = yield* Effect.promise(() =>
          fs
            .link(shared, tmp)
            .catch(() => fs.copyFile(shared, tmp))
            .then(
              () => fs.rename(tmp, file).then(() => true, () => false),
              () => false
            )
        ).pipe(Effect.ensuring(Effect.promise(() => fs.rm(tmp, { force: true }))))
        return linked ? name : runner
      })
      pending = Effect.runPromise(make)
      compiling.set(file, pending)
      // the next pool looks again (a Python installed since, or the zip removed with the cache)
      const settled = pending
      void settled.then(() => compiling.delete(file))
    }
    const shared = pending
    return Effect.promise(() => shared)
  })

interface Manifest {
  readonly files: ReadonlyArray<string>
  readonly runner: string
  /** Mirrored requirements left out (no wheel for the platform): later nodes report them too. */
  readonly dropped: ReadonlyArray<string>
}

const readManifest = async (dir: string): Promise<Manifest | undefined> => {
  try {
    const manifest = JSON.parse(await fs.readFile(path.join(dir, MANIFEST), "utf8")) as Partial<Manifest>
    if (!Array.isArray(manifest.files) || typeof manifest.runner !== "string") return undefined
    return { files: manifest.files, runner: manifest.runner, dropped: Array.isArray(manifest.dropped) ? manifest.dropped : [] }
  } catch {
    return undefined
  }
}

const isPipRequirement = (requirement: string) => /^pip(\s|[<>=!~;@[]|$)/i.test(requirement.trim())

const clientPython = Effect.gen(function* () {
  const candidates = [process.env.SKYWARD_PIP_PYTHON, process.env.VIRTUAL_ENV ? path.join(process.env.VIRTUAL_ENV, "bin", "python") : undefined]
  for (const candidate of candidates) {
    if (!candidate) continue
    const ok = yield* runCommand(candidate, ["-m", "pip", "--version"])
    if (ok.code === 0) return candidate
  }
  const local = yield* findLocalPython("3").pipe(
    Effect.mapError((e) => new WheelhouseError({ message: `no Python with pip on this machine to build the wheelhouse: ${e.message}`, output: "" }))
  )
  const ok = yield* runCommand(local.executable, ["-m", "pip", "--version"])
  if (ok.code !== 0)
    return yield* new WheelhouseError({
      message: `${local.executable} has no pip, which builds the wheelhouse the nodes install from; install pip, set SKYWARD_PIP_PYTHON, or use install: "index"`,
      output: ok.tail
    })
  return local.executable
})

const explain = (tail: string, platform: WheelPlatform, host: string): string => {
  const missing =
    /No matching distribution found for (\S+)/.exec(tail)?.[1] ?? /Could not find a version that satisfies the requirement (\S+)/.exec(tail)?.[1]
  if (missing)
    return (
      `no wheel of ${missing} for Python ${platform.pythonVersion} on ${platform.key} (the platform of ${host}): ` +
      `the client ships wheels to nodes that may have no internet. Pick a version of ${missing} that publishes wheels for that platform, ` +
      `or set install: "index" so the nodes install from an index themselves`
    )
  if (/ResolutionImpossible/.test(tail)) {
    const cause = tail.split("\n").filter((l) => /^\s+(The user requested|\S+ depends on)/.test(l)).map((l) => l.trim())
    return `the Image's pip requirements conflict (with each other or with the agent's ${AGENT_REQUIREMENTS.join(", ")}): ${cause.join("; ") || "see the output"}`
  }
  const line = tail.split("\n").reverse().find((l) => /error/i.test(l))?.trim()
  return `pip download failed while building the wheelhouse for ${host}: ${line ?? "see the output"}`
}

/** pip's arguments that download wheels of `requirements` for the node's platform into `dest`. */
const downloadArgs = (image: Image, platform: WheelPlatform, dest: string, requirements: ReadonlyArray<string>): string[] => [
  "-m", "pip", "download", "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
  "--only-binary=:all:",
  ...platform.platforms.flatMap((p) => ["--platform", p]),
  "--python-version", platform.pythonVersion,
  "--implementation", "cp",
  "--abi", platform.abi,
  "-d", dest,
  ...requirements,
  // the node runs pip from this wheel: its environment is made without ensurepip
  ...(image.pip.some(isPipRequirement) ? [] : ["pip"])
]

/**
 * The wheelhouse's `pip download`, as `runDroppingUnavailable` runs it. When pip finds no wheel of
 * a mirrored pin, a pure-Python wheel built on the client takes its place and pip runs again; a pin
 * of which none can be built is left to `runDroppingUnavailable`, which leaves it out.
 */
const downloadWithClientWheels = (image: Image, platform: WheelPlatform, python: string, dest: string, scratch: string, onLine: (line: string) => void) => {
  const mirrored = mirroredPip(image)
  const builtFor = new Map<string, string>()
  const tried = new Set<string>()
  return (requirements: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      for (;;) {
        const attempt = yield* runCommand(python, downloadArgs(image, platform, dest, requirements.map((r) => builtFor.get(r) ?? r)), { onLine, env: withPipIndexes(process.env, image.pipIndexes) })
        if (attempt.code === 0) return attempt
        const project = unavailableProject(attempt.tail)
        const pin = mirrored.find((r) => requirements.includes(r) && !tried.has(r) && localWheelOf(r) === undefined && projectName(r) === project)
        if (pin === undefined) return attempt
        tried.add(pin)
        const wheel = yield* buildPureWheel(python, pin, image.pipIndexes, scratch, onLine)
        if (wheel === undefined) return attempt
        builtFor.set(pin, `${requirementName(pin)} @ ${pathToFileURL(wheel).href}`)
      }
    })
}

/**
 * Moves the mirror's local wheels (`requirements` naming a `file:` wheel, which pip download copied
 * into `dir`) to `local/<content hash>/` in it: see `localWheelPlace`. Gives their new paths.
 */
const placeLocalWheels = (dir: string, requirements: ReadonlyArray<string>): Effect.Effect<string[], WheelhouseError> =>
  Effect.forEach(
    requirements.flatMap((r) => localWheelOf(r) ?? []),
    (wheel) =>
      Effect.gen(function* () {
        const place = yield* localWheelPlace(wheel.file).pipe(Effect.mapError((e) => new WheelhouseError({ message: e.message, output: "" })))
        yield* Effect.promise(async () => {
          await fs.mkdir(path.join(dir, path.dirname(place)), { recursive: true })
          await fs.copyFile(wheel.file, path.join(dir, place))
          await fs.rm(path.join(dir, path.basename(wheel.file)), { force: true })
        })
        return place
      })
  )

/**
 * The wheelhouse for (Image, Python, platform), built once on the client with `pip download
 * --only-binary=:all:` under `<cache>/wheelhouses/<key>` and reused after (also by other
 * processes: it is built in a temporary folder and renamed into place). Nodes of one pool that
 * ask together share one build, and one compiled runner (`compiledRunner`).
 */
export const ensureWheelhouse = (
  image: Image,
  imageHash: string,
  platform: WheelPlatform,
  host: string,
  onLine: (line: string) => void
): Effect.Effect<Wheelhouse, WheelhouseError> =>
  Effect.flatMap(wheelhouseOf(image, imageHash, platform, host, onLine), (wheelhouse) =>
    Effect.map(compiledRunner(wheelhouse.dir, wheelhouse.runner, platform), (runner) => ({ ...wheelhouse, runner }))
  )

const wheelhouseOf = (
  image: Image,
  imageHash: string,
  platform: WheelPlatform,
  host: string,
  onLine: (line: string) => void
): Effect.Effect<Wheelhouse, WheelhouseError> =>
  Effect.gen(function* () {
    const root = path.join(cacheRoot(), "wheelhouses")
    const key = `${imageHash}-${platform.abi}-${platform.key}`
    const dir = path.join(root, key)
    const ready = yield* Effect.promise(() => readManifest(dir))
    if (ready) return { dir, ...ready, cached: true }
    const tmp = `${dir}.tmp-${randomBytes(4).toString("hex")}`
    const scratch = `${tmp}-built`
    const build = Effect.gen(function* () {
      const python = yield* clientPython
      yield* Effect.promise(() => Promise.all([fs.mkdir(tmp, { recursive: true }), fs.mkdir(scratch, { recursive: true })]))
      onLine(`building the wheelhouse ${key} on the client (pip download for Python ${platform.pythonVersion} on ${platform.key})`)
      const { attempt, dropped } = yield* runDroppingUnavailable(image, downloadWithClientWheels(image, platform, python, tmp, scratch, onLine))
      if (attempt.code !== 0) return yield* new WheelhouseError({ message: explain(attempt.tail, platform, host), output: attempt.tail })
      const local = yield* placeLocalWheels(tmp, installRequirements(image).filter((r) => !dropped.includes(r)))
      const wheels = (yield* Effect.promise(() => fs.readdir(tmp))).filter((f) => f.endsWith(".whl")).sort()
      const runner = wheels.find((f) => /^pip-\d/.test(f))
      if (runner === undefined) return yield* new WheelhouseError({ message: `pip download gave no pip wheel for ${host}`, output: attempt.tail })
      const files = [...(image.pip.some(isPipRequirement) ? wheels : wheels.filter((f) => f !== runner)), ...local]
      const manifest: Manifest = { files, runner, dropped }
      yield* Effect.promise(() => fs.writeFile(path.join(tmp, MANIFEST), JSON.stringify({ requirements: installRequirements(image), platform, ...manifest }, null, 2)))
      const moved = yield* Effect.promise(async () => {
        if (await fs.rename(tmp, dir).then(() => true, () => false)) return true
        // a folder without a valid manifest (older format, or half-removed) is replaced
        if ((await readManifest(dir)) !== undefined) return false
        await fs.rm(dir, { recursive: true, force: true })
        return fs.rename(tmp, dir).then(() => true, () => false)
      })
      if (!moved) {
        // another process finished first: use its wheelhouse
        const theirs = yield* Effect.promise(() => readManifest(dir))
        if (theirs) return { dir, ...theirs, cached: true }
        return yield* new WheelhouseError({ message: `cannot move the wheelhouse into ${dir}`, output: "" })
      }
      return { dir, ...manifest, cached: false }
    }).pipe(
      // whatever happened, neither the half-made wheelhouse nor the client-built wheels stay
      Effect.ensuring(Effect.promise(() => Promise.all([fs.rm(tmp, { recursive: true, force: true }), fs.rm(scratch, { recursive: true, force: true })])))
    )
    let promise = building.get(key)
    if (promise === undefined) {
      promise = Effect.runPromise(Effect.either(build)).then((either) => {
        building.delete(key)
        if (either._tag === "Left") throw either.left
        return either.right
      })
      building.set(key, promise)
    }
    const shared = promise
    return yield* Effect.tryPromise({
      try: () => shared,
      catch: (e) => (e instanceof WheelhouseError ? e : new WheelhouseError({ message: `building the wheelhouse failed: ${e}`, output: "" }))
    })
  })
