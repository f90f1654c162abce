import fs from "node:fs/promises"
import path from "node:path"
import { Effect } from "effect"
import { findLocalPython, ownedTempDir, pythonAt, runCommand, type LocalPython } from "@skyward/host"
import { BootstrapError, formatBytes, type Image } from "@skyward/contracts"
import { droppedNote, runDroppingUnavailable, withPipIndexes } from "@skyward/worker"
import { withBuildLock } from "./build-lock.js"
import { environmentsDir, markUsed, READY_MARKER } from "./env-cache.js"
import { shareIdenticalFiles } from "./share-files.js"

/** A Python virtual environment on this machine, made from an Image. */
export interface LocalEnvironment {
  readonly dir: string
  readonly python: string
  /** True when it already existed (nothing was installed). */
  readonly cached: boolean
  /** What of the Image's mirror it lacks, one line each (see `Image.mirror`). */
  readonly notes: ReadonlyArray<string>
}

/**
 * This process's environment minus what would make pip install somewhere else or skip packages it
 * sees on PYTHONPATH, with `tmp` as TMPDIR: what venv and pip leave there (partly downloaded wheels,
 * when a build is interrupted and they are killed) goes with that folder.
 */
const buildEnv = (tmp: string): NodeJS.ProcessEnv => {
  const { PYTHONPATH: _path, PYTHONHOME: _home, PIP_TARGET: _target, PIP_PREFIX: _prefix, PIP_USER: _user, VIRTUAL_ENV: _venv, ...rest } = process.env
  return { ...rest, TMPDIR: tmp }
}

/**
 * A private temporary folder for one build, removed after it, also when it is interrupted (then
 * again if a killed process was still writing into it; a Node killed meanwhile leaves it to the next
 * build's sweep).
 */
const buildTempDir = ownedTempDir("skyward-build").pipe(
  Effect.tap((tmp) => Effect.addFinalizer(() => Effect.promise(() => fs.rm(tmp, { recursive: true, force: true, maxRetries: 5 })))),
  Effect.mapError((cause) => new Error(`cannot make a temporary folder for the build: ${cause.message}`))
)

/** A requirement with the password of any URL in it masked (`pkg @ https://user:***@host/...`). */
const maskCredentials = (requirement: string): string => requirement.replace(/:\/\/[^/@\s]+@/g, "://***@")

/** Compiles an environment's modules to bytecode on every core, silently, as pip would have. */
const compileArgs = (dir: string): string[] => ["-m", "compileall", "-qq", "-j", "0", dir]

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false
  )

/**
 * pip arguments that install an Image's packages plus the agent's own needs. pip would compile
 * every module to bytecode on one core (two thirds of building a scikit-learn environment):
 * `compileArgs` does it afterwards on every core.
 */
const pipInstallArgs = (requirements: ReadonlyArray<string>): string[] => [
  "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--no-compile",
  ...requirements
]

/** What the ready marker of an environment holds. */
interface ReadyMarker {
  /** The notes of its build: mirrored requirements it was made without. */
  readonly notes?: ReadonlyArray<string>
}

const readNotes = (dir: string): Promise<ReadonlyArray<string>> =>
  fs.readFile(path.join(dir, READY_MARKER), "utf8").then(
    (text) => (JSON.parse(text) as ReadyMarker).notes ?? [],
    () => []
  )

/**
 * Makes (once) or reuses the virtual environment `<cache>/envs/<hash>`. A lock makes two pools
 * that start together build it once (the second says whom it waits for); a half-built environment
 * (a crash) is rebuilt, at once when its builder died.
 */
export const ensureLocalEnvironment = (
  image: Image,
  hash: string,
  interpreter: LocalPython,
  node: number,
  onLine: (line: string) => void
): Effect.Effect<LocalEnvironment, BootstrapError> => {
  const dir = path.join(environmentsDir(), hash)
  const python = path.join(dir, "bin", "python")
  const fail = (message: string, output = "") => new BootstrapError({ node, message, output })
  const ready = () => exists(path.join(dir, READY_MARKER))

  const build = Effect.gen(function* () {
    yield* Effect.tryPromise({ try: () => fs.rm(dir, { recursive: true, force: true }), catch: (e) => fail(`cannot clear ${dir}: ${e}`) })
    const tmp = yield* buildTempDir.pipe(Effect.mapError((e) => fail(e.message)))
    onLine(`creating virtual environment ${dir} (${interpreter.executable} ${interpreter.version})`)
    const venv = yield* runCommand(interpreter.executable, ["-m", "venv", dir], { onLine, env: buildEnv(tmp) })
    if (venv.code !== 0) return yield* fail(`python -m venv failed on node ${node}`, venv.tail)
    const { attempt: pip, dropped } = yield* runDroppingUnavailable(image, (requirements) =>
      runCommand(python, pipInstallArgs(requirements), { onLine, env: withPipIndexes(buildEnv(tmp), image.pipIndexes) })
    )
    if (pip.code !== 0)
      return yield* fail(`pip install failed on node ${node}: ${lastErrorLine(pip.tail)}`, pip.tail)
    const notes = dropped.map((requirement) => droppedNote(requirement, `Python ${interpreter.version} on this machine`))
    // files another environment holds already are linked to it (bytecode is not: it records its
    // environment's path), before compileall so that it compiles against the shared sources
    const shared = yield* Effect.promise(() => otherEnvironments(dir).then((others) => shareIdenticalFiles(dir, others)))
    if (shared > 0) onLine(`${formatBytes(shared)} of its packages shared with other environments (hard links)`)
    // best effort, like pip's own: a module that does not compile here is compiled when imported
    yield* runCommand(python, compileArgs(dir), { env: buildEnv(tmp) })
    yield* Effect.tryPromise({
      // what it was made with, minus the Image's variables and indexes (credentials, say): this user's alone
      try: () => fs.writeFile(path.join(dir, READY_MARKER), JSON.stringify({ pip: image.pip.map(maskCredentials), apt: image.apt, python: interpreter.version, notes }), { mode: 0o600 }),
      catch: (e) => fail(`cannot write ${dir}: ${e}`)
    })
  }).pipe(Effect.scoped)

  const withLock = withBuildLock(
    dir,
    node,
    onLine,
    Effect.gen(function* () {
      // another pool may have finished it while we waited for the lock
      if (yield* Effect.promise(ready)) return true
      // a failed or interrupted build leaves no half-made environment in the cache
      yield* build.pipe(Effect.onError(() => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))))
      return false
    })
  ).pipe(Effect.catchIf((e): e is Error => !(e instanceof BootstrapError), (e) => fail(`cannot lock ${dir}: ${e.message}`)))

  return Effect.gen(function* () {
    const cached = (yield* Effect.promise(ready)) || (yield* withLock)
    yield* Effect.promise(() => markUsed(dir))
    return { dir, python, cached, notes: yield* Effect.promise(() => readNotes(dir)) }
  })
}

/** The finished environments beside `dir` (of any Python: the sharing itself keeps to one minor). */
const otherEnvironments = async (dir: string): Promise<string[]> => {
  const root = path.dirname(dir)
  const names = await fs.readdir(root).catch(() => [] as string[])
  const others = names.map((name) => path.join(root, name)).filter((other) => other !== dir)
  const ready = await Promise.all(others.map((other) => exists(path.join(other, READY_MARKER))))
  return others.filter((_, i) => ready[i])
}

const lastErrorLine = (tail: string): string =>
  tail
    .split("\n")
    .reverse()
    .find((line) => /error/i.test(line))
    ?.trim() ?? "see the output above"

/**
 * The local environment for an Image: finds the interpreter its `python` asks for (or takes
 * `interpreter`, a path), then makes or reuses the venv keyed by the Image hash and that
 * interpreter's version. Local nodes and the `skyward run` client share it, so client and workers
 * run the same packages.
 */
export const prepareLocalEnvironment = (
  image: Image,
  hash: string,
  node: number,
  onLine: (line: string) => void,
  interpreter?: string
): Effect.Effect<LocalEnvironment, BootstrapError> =>
  (interpreter === undefined ? findLocalPython(image.python) : pythonAt(interpreter, image.python)).pipe(
    Effect.mapError((e) => new BootstrapError({ node, message: e.message, output: "" })),
    Effect.flatMap((interpreter) => ensureLocalEnvironment(image, `${hash}-py${interpreter.version}`, interpreter, node, onLine))
  )
