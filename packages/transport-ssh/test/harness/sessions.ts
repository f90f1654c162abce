/**
 * Bootstrap plans and SSH sessions to the harness's hosts, for tests that bootstrap nodes directly
 * (without a pool).
 */
import { createHash } from "node:crypto"
import fs from "node:fs"
import path from "node:path"
import { codecModules } from "@skyward/codec"
import { cacheRoot } from "@skyward/host"
import { type BootstrapPlan, imageHash, type ImageInput, ImageSchema, type NodeInfo, type WorkdirSnapshot } from "@skyward/contracts"
import { agentModules } from "@skyward/worker"
import { Schema } from "effect"
import type { SshTransportOptions } from "../../src/index.js"
import { makeSshTransport } from "../../src/internal/transport.js"
import type { TestHosts } from "./hosts.js"

/** Node `index` on host `index`, reached with the harness's ed25519 key and pinned host key. */
export const nodeOn = (hosts: TestHosts, index: number): NodeInfo => {
  const h = hosts.hosts[index]!
  return { index, address: h.address, data: { ssh: { host: h.address, port: h.port, user: h.user, key: hosts.keys.ed25519.file, hostKey: h.hostKey } } }
}

/** The SSH transport as the tests use it: no known_hosts files, a short connect timeout. */
export const testTransport = (options: SshTransportOptions = {}) => makeSshTransport({ knownHostsFiles: [], connectTimeout: 10, ...options })

/** A plan for `input` with the agent's and codec's modules, plugin `ops` and a working directory. */
export const planOf = (input: ImageInput = {}, more: { readonly ops?: ReadonlyArray<string>; readonly workdir?: WorkdirSnapshot } = {}): BootstrapPlan => {
  const image = Schema.decodeSync(ImageSchema)(input)
  return { image, imageHash: imageHash(image), ops: more.ops ?? [], modules: [agentModules(), codecModules()], ...(more.workdir ? { workdir: more.workdir } : {}) }
}

/** Removes what `snapshotWorkdir(root)` keeps in the client's cache (its hash index of the folder). */
export const forgetSnapshot = (root: string): void =>
  fs.rmSync(path.join(cacheRoot(), "workdir", `${createHash("sha256").update(path.resolve(root)).digest("hex").slice(0, 16)}.json`), { force: true })

/** Removes the client's wheelhouses of an Image (every platform), built for a test that must leave nothing. */
export const forgetWheelhouses = (hash: string): void => {
  const dir = path.join(cacheRoot(), "wheelhouses")
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (name.startsWith(`${hash}-`)) fs.rmSync(path.join(dir, name), { recursive: true, force: true })
}

/** Every file under `dir`, as sorted POSIX paths relative to it. */
export const filesUnder = (dir: string): string[] =>
  (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"))
    .sort()
