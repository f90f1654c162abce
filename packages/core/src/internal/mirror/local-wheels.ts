import { createHash, randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { cacheRoot } from "../local/cache.js"
import { runCommand } from "../local/shell.js"
import { snapshotWorkdir, type WorkdirSnapshot } from "../workdir/snapshot.js"

/** Where a wheel is built from: a project folder, an archive file, or a pinned VCS requirement. */
export type WheelSource =
  | { readonly kind: "folder"; readonly dir: string }
  | { readonly kind: "archive"; readonly file: string }
  | { readonly kind: "vcs"; readonly requirement: string }

/** A project folder's build outputs: they change with every build and say nothing of its content. */
const BUILD_OUTPUTS = ["build/", "dist/", "*.egg-info/"]

/** A folder's content, as its files' paths and hashes (what `pip install -e` would pick up). */
const folderDigest = (snapshot: WorkdirSnapshot): string => snapshot.files.map((f) => `${f.path}\0${f.hash}\0${f.executable}`).join("\n")

const fileDigest = (file: string): Promise<string | undefined> =>
  fs.readFile(file).then(
    (data) => createHash("sha256").update(data).digest("hex"),
    () => undefined
  )

/** Copies a snapshot's files into `dir` (for a build that must not write into the user's folder). */
const copyOf = (snapshot: WorkdirSnapshot, dir: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    for (const file of snapshot.files) {
      const target = path.join(dir, file.path)
      await fs.mkdir(path.dirname(target), { recursive: true })
      await fs.copyFile(path.join(snapshot.root, file.path), target)
    }
    return dir
  })

const wheelIn = (dir: string): Promise<string | undefined> =>
  fs.readdir(dir).then(
    (names) => names.find((n) => n.endsWith(".whl")),
    () => undefined
  )

/** A wheel built on the client: its requirement for pip (`name @ file:///...whl`), or why there is none. */
export type BuiltWheel = { readonly requirement: string } | { readonly failure: string }

/**
 * Builds (once per content) the wheel of a distribution the client installed from a folder (also
 * in editable mode), an archive or a VCS checkout, with `builder -m pip wheel --no-deps`, and
 * keeps it in `<cache>/local-wheels/<key>/`: the key hashes the source's content and the Python
 * version, so an edited project gets a new wheel and an unchanged one is not built again
 * (`onBuild` hears when one is).
 */
export const buildLocalWheel = (
  name: string,
  source: WheelSource,
  builder: string,
  pythonVersion: string,
  onBuild: () => void
): Effect.Effect<BuiltWheel> =>
  Effect.gen(function* () {
    const where = source.kind === "folder" ? source.dir : source.kind === "archive" ? source.file : source.requirement
    const folder = source.kind === "folder" ? yield* Effect.option(snapshotWorkdir(source.dir, Number.MAX_SAFE_INTEGER, BUILD_OUTPUTS)) : undefined
    let digest: string | undefined = where // a VCS requirement is pinned to a commit
    if (folder !== undefined) digest = folder._tag === "Some" ? folderDigest(folder.value) : undefined
    else if (source.kind === "archive") digest = yield* Effect.promise(() => fileDigest(source.file))
    if (digest === undefined) return { failure: `its source ${where} cannot be read` }
    const key = createHash("sha256").update(JSON.stringify([name, source.kind, digest, pythonVersion])).digest("hex").slice(0, 20)
    const dir = path.join(cacheRoot(), "local-wheels", key)
    const requirementOf = (wheel: string) => ({ requirement: `${name} @ ${pathToFileURL(path.join(dir, wheel)).href}` })
    const cached = yield* Effect.promise(() => wheelIn(dir))
    if (cached !== undefined) return requirementOf(cached)
    onBuild()
    const scratch = `${dir}.tmp-${randomBytes(4).toString("hex")}`
    const pipWheel = (target: string) =>
      runCommand(builder, ["-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--no-input", "-q", "-w", path.join(scratch, "wheel"), target])
    const build = Effect.gen(function* () {
      // a project folder is built from a copy, so that what a build writes next to its sources
      // (build/, *.egg-info/) never lands in the user's folder; one whose build needs more than
      // the copy holds (its .git, for a version) is built in place
      let result = folder?._tag === "Some" ? yield* pipWheel(yield* copyOf(folder.value, path.join(scratch, "source"))) : yield* pipWheel(where)
      if (result.code !== 0 && folder !== undefined) result = yield* pipWheel(where)
      const built = yield* Effect.promise(() => wheelIn(path.join(scratch, "wheel")))
      if (result.code !== 0 || built === undefined) {
        const why = result.tail.split("\n").reverse().find((l) => /error/i.test(l))?.trim() ?? `pip wheel exited with ${result.code}`
        return { failure: `building its wheel failed: ${why}` }
      }
      // another run may have put the same wheel in place meanwhile: theirs is as good
      yield* Effect.promise(() => fs.rename(path.join(scratch, "wheel"), dir).catch(() => undefined))
      return requirementOf((yield* Effect.promise(() => wheelIn(dir))) ?? built)
    })
    return yield* build.pipe(Effect.ensuring(Effect.promise(() => fs.rm(scratch, { recursive: true, force: true }))))
  })
