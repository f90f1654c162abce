import fs from "node:fs"
import net from "node:net"
import path from "node:path"
import { Effect, Either } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import type { SshTarget } from "../src/index.js"
import { openSsh } from "../src/internal/connect.js"
import { exec } from "../src/internal/exec.js"
import type { SshConnectOptions } from "../src/internal/options.js"
import { openSftp, putFile } from "../src/internal/sftp.js"
import { createHosts, leftovers, netnsUnavailable, sshdUnavailable, type HostMode, type TestHosts } from "./harness/hosts.js"

const noSshd = sshdUnavailable()
const noNetns = noSshd ?? netnsUnavailable()
if (noSshd) console.warn(`skipping SSH tests: ${noSshd}`)
else if (noNetns) console.warn(`skipping network-namespace SSH tests: ${noNetns} (the loopback variant still runs)`)

/** A loopback port the kernel just handed out and took back: nothing listens there. */
const closedLoopbackPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })

/** A process's command line, for messages. */
const commandLine = (pid: number) => {
  try {
    return `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim()}`
  } catch {
    return `${pid} (gone)`
  }
}

const run = <A, E>(effect: Effect.Effect<A, E, import("effect").Scope.Scope>) => Effect.runPromise(Effect.either(Effect.scoped(effect)))

const suite = (mode: HostMode, skip: string | undefined) =>
  describe.skipIf(skip !== undefined)(`ssh connections (${mode})`, () => {
    let hosts: TestHosts
    let options: SshConnectOptions
    const target = (i = 0, extra: Partial<SshTarget> = {}): SshTarget => ({
      host: hosts.hosts[i]!.address,
      port: hosts.hosts[i]!.port,
      user: hosts.hosts[i]!.user,
      key: hosts.keys.ed25519.file,
      ...extra
    })

    beforeAll(async () => {
      hosts = await createHosts(2, mode)
      options = { knownHostsFiles: [hosts.knownHostsFile], knownHostsRecordFile: path.join(hosts.dir, "tofu_known_hosts"), connectTimeout: 5 }
    })
    afterAll(async () => {
      if (!hosts) return
      await hosts.teardown()
      expect(leftovers(hosts)).toEqual([])
    })
    afterEach(async () => {
      if (!hosts) return
      // every connection of the test is closed: only the hosts' listening sshd are left
      const left = () => hosts.hosts.flatMap((h) => h.sessions().map((pid) => `host ${h.index}: ${commandLine(pid)}`))
      const until = Date.now() + 5_000
      while (left().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      expect(left()).toEqual([])
    })

    it("connects with an ed25519 key file, runs a command and uploads a file by SFTP", async () => {
      const local = path.join(hosts.dir, "payload.txt")
      fs.writeFileSync(local, "hello over sftp\n")
      const result = await run(
        Effect.gen(function* () {
          const connection = yield* openSsh(target(), options)
          const who = yield* exec(connection, "id -un; echo $HOME")
          const sftp = yield* openSftp(connection)
          yield* putFile(sftp, local, `${hosts.hosts[0]!.home}/payload.txt`)
          const back = yield* exec(connection, "cat ~/payload.txt")
          return { who, back }
        })
      )
      expect(Either.isRight(result)).toBe(true)
      const { who, back } = Either.getOrThrow(result)
      expect(who.code).toBe(0)
      expect(who.stdout.split("\n")).toEqual([hosts.hosts[0]!.user, hosts.hosts[0]!.home])
      expect(back.stdout).toBe("hello over sftp")
      expect(fs.readFileSync(path.join(hosts.hosts[0]!.home, "payload.txt"), "utf8")).toBe("hello over sftp\n")
    })

    it("connects with an in-memory RSA key and a pinned host key", async () => {
      const result = await run(
        Effect.gen(function* () {
          const connection = yield* openSsh(target(1, { key: { data: hosts.keys.rsa.privateText }, hostKey: hosts.hosts[1]!.hostKey }), {
            ...options,
            knownHostsFiles: []
          })
          return yield* exec(connection, "echo ok")
        })
      )
      expect(Either.getOrThrow(result).stdout).toBe("ok")
    })

    it("refuses a host whose key is not the pinned one", async () => {
      const started = Date.now()
      const result = await run(openSsh(target(0, { hostKey: hosts.hosts[1]!.hostKey }), options))
      const error = Either.flip(result).pipe(Either.getOrThrow)
      expect(error._tag).toBe("SshHostKeyError")
      expect(error.message).toMatch(/not the pinned host key/)
      expect(Date.now() - started).toBeLessThan(3_000)
    })

    it("refuses a changed host key found in known_hosts, saying it changed", async () => {
      const file = path.join(hosts.dir, "changed_known_hosts")
      const h = hosts.hosts[0]!
      const name = h.port === 22 ? h.address : `[${h.address}]:${h.port}`
      fs.writeFileSync(file, `${name} ${hosts.hosts[1]!.hostKey}\n`)
      const result = await run(openSsh(target(0), { ...options, knownHostsFiles: [file], trustOnFirstUse: true }))
      const error = Either.flip(result).pipe(Either.getOrThrow)
      expect(error._tag).toBe("SshHostKeyError")
      expect(error.message).toMatch(/HOST KEY CHANGED/)
      expect(fs.readFileSync(file, "utf8").split("\n").filter(Boolean)).toHaveLength(1)
    })

    it("refuses an unknown host unless trust-on-first-use is on, which records the key", async () => {
      const record = path.join(hosts.dir, `tofu-${Date.now()}`)
      const unknown = await run(openSsh(target(0), { ...options, knownHostsFiles: [], knownHostsRecordFile: record }))
      const error = Either.flip(unknown).pipe(Either.getOrThrow)
      expect(error._tag).toBe("SshHostKeyError")
      expect(error.message).toMatch(/unknown/)
      expect(fs.existsSync(record)).toBe(false)

      const tofu = await run(
        Effect.flatMap(openSsh(target(0), { ...options, knownHostsFiles: [], knownHostsRecordFile: record, trustOnFirstUse: true }), (c) =>
          exec(c, "echo trusted")
        )
      )
      expect(Either.getOrThrow(tofu).stdout).toBe("trusted")
      expect(fs.readFileSync(record, "utf8")).toContain(hosts.hosts[0]!.hostKey)
      // the recorded key is now what the host is checked against
      const again = await run(Effect.flatMap(openSsh(target(0), { ...options, knownHostsFiles: [record] }), (c) => exec(c, "echo known")))
      expect(Either.getOrThrow(again).stdout).toBe("known")
    })

    it("fails fast, without retries, on a key the server refuses", async () => {
      const started = Date.now()
      const result = await run(openSsh(target(0, { key: hosts.wrongKey.file }), { ...options, connectTimeout: 30 }))
      const error = Either.flip(result).pipe(Either.getOrThrow)
      expect(error._tag).toBe("SshAuthError")
      expect(error.message).toContain(`${hosts.hosts[0]!.user}@${hosts.hosts[0]!.address}`)
      expect(error.message).toContain(hosts.wrongKey.file)
      expect(Date.now() - started).toBeLessThan(3_000)
    })

    it("fails within the connect timeout when nothing listens", async () => {
      const h = hosts.hosts[1]!
      // a port where nothing listens: next to sshd on the namespace host's own address; on loopback a
      // port just given back by the kernel (h.port + 1 may be another loopback host's sshd)
      const port = h.mode === "netns" ? h.port + 1 : await closedLoopbackPort()
      const started = Date.now()
      const result = await run(openSsh({ ...target(1), port }, { ...options, connectTimeout: 3, retries: 10 }))
      const elapsed = Date.now() - started
      const error = Either.flip(result).pipe(Either.getOrThrow)
      expect(error._tag).toBe("SshConnectError")
      expect(error.message).toMatch(/could not connect/)
      expect(elapsed).toBeLessThan(4_500)
      expect(elapsed).toBeGreaterThan(500) // it did retry
    })

    it("connects through a jump host", async () => {
      const inner = hosts.hosts[1]!
      const result = await run(
        Effect.flatMap(
          // in a namespace, the jump host reaches the inner sshd on its own address; on loopback, host 0 jumps to host 1
          openSsh({ ...target(1), hostKey: inner.hostKey, jump: target(mode === "netns" ? 1 : 0) }, options),
          (c) => exec(c, "id -un")
        )
      )
      expect(Either.getOrThrow(result).stdout).toBe(inner.user)
    })

    it.skipIf(mode !== "netns")("fails within the connect timeout when the host does not answer at all", async () => {
      const h = hosts.hosts[1]!
      h.silence(true)
      try {
        const started = Date.now()
        const result = await run(openSsh(target(1), { ...options, connectTimeout: 3 }))
        const elapsed = Date.now() - started
        const error = Either.flip(result).pipe(Either.getOrThrow)
        expect(error._tag).toBe("SshConnectError")
        expect(error.message).toMatch(/could not connect to .* within 3s|timed out/)
        expect(elapsed).toBeLessThan(4_500)
      } finally {
        h.silence(false)
      }
    })
  })

suite("loopback", noSshd)
suite("netns", noNetns)
