import { createHash, randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { cacheRoot, runCommand, sha256File } from "@skyward/host"
import type { WorkdirSnapshot } from "@skyward/contracts"
import { snapshotWorkdir } from "../workdir/snapshot.js"

/** Where a wheel is built from: a project folder, an archive file, or a pinned VCS requirement. */
export type WheelSource =
  | { readonly kind: "folder"; readonly dir: string }
  | { readonly kind: "archive"; readonly file: string }
  | { readonly kind: "vcs"; readonly requirement: string }

/** A wheel built on the client: its requirement for pip (`name @ file:///...whl`), or why there is none. */
export type BuiltWheel = { readonly requirement: string } | { readonly failure: string }

/** What a build of one source gave: the wheel, under the folder named by its content. */
interface BuildRecord {
  readonly wheel: string
}

/** A project folder's build outputs: they change with every build and say nothing of its content. */
const BUILD_OUTPUTS = ["build/", "dist/", "*.egg-info/"]

// The digest of what a wheel holds: its RECORD lists every file with its hash, and no time stamp.
const RECORD_DIGEST = [
  "import hashlib, sys, zipfile",
  "z = zipfile.ZipFile(sys.argv[1])",
  "print(hashlib.sha256(z.read(next(n for n in z.namelist() if n.endswith('.dist-info/RECORD')))).hexdigest())"
].join("\n")

/** A folder's content, as its files' paths and hashes (what `pip install -e` would pick up). */
const folderDigest = (snapshot: WorkdirSnapshot): string => snapshot.files.map((f) => `${f.path}\0${f.hash}\0${f.executable}`).join("\n")

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

const readRecord = (file: string): Promise<BuildRecord | undefined> =>
  fs.readFile(file, "utf8").then(
    (text) => JSON.parse(text) as BuildRecord,
    () => undefined
  )

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false
  )

/**
 * Builds the wheel of a distribution the client installed from a folder (also in editable mode),
 * an archive or a VCS checkout, with `builder -m pip wheel --no-deps`, keeping it in
 * `<cache>/local-wheels/`: a build is remembered by its source's content (an unchanged project
 * is not built again; `onBuild` hears when one is), and the wheel is kept under the digest of what
 * it holds, so the requirement (and the Image that installs it) changes only when the wheel does:
 * editing a file of the project that the wheel leaves out builds it again, to the same requirement.
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
    else if (source.kind === "archive") digest = yield* Effect.promise(() => sha256File(source.file).catch(() => undefined))
    if (digest === undefined) return { failure: `its source ${where} cannot be read` }
    const root = path.join(cacheRoot(), "local-wheels")
    const recordFile = path.join(root, "builds", `${createHash("sha256").update(JSON.stringify([name, source.kind, digest, pythonVersion])).digest("hex").slice(0, 20)}.json`)
    const requirementOf = (wheel: string) => ({ requirement: `${name} @ ${pathToFileURL(path.join(root, wheel)).href}` })
    const known = yield* Effect.promise(() => readRecord(recordFile))
    if (known !== undefined && (yield* Effect.promise(() => exists(path.join(root, known.wheel))))) return requirementOf(known.wheel)

    onBuild()
    const scratch = path.join(root, `tmp-${randomBytes(4).toString("hex")}`)
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
      const content = yield* runCommand(builder, ["-c", RECORD_DIGEST, path.join(scratch, "wheel", built)])
      // a wheel without a readable RECORD is kept under its build's own name: rebuilt, it changes the Image
      const key = content.code === 0 ? content.tail.trim().slice(0, 20) : `build-${path.basename(recordFile, ".json")}`
      const wheel = path.join(key, built)
      yield* Effect.promise(async () => {
        await fs.mkdir(path.join(root, "builds"), { recursive: true })
        // another run may have put the same wheel in place meanwhile: theirs is as good
        if (!(await exists(path.join(root, wheel)))) await fs.rename(path.join(scratch, "wheel"), path.join(root, key)).catch(() => undefined)
        await fs.writeFile(recordFile, JSON.stringify({ wheel } satisfies BuildRecord))
      })
      return requirementOf(wheel)
    })
    return yield* build.pipe(Effect.ensuring(Effect.promise(() => fs.rm(scratch, { recursive: true, force: true }))))
  })
