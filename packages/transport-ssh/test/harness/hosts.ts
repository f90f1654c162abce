/**
 * Test hosts on this machine: each a real OpenSSH server with its own host key, its own Unix user
 * and home directory, and (when we may) its own network namespace joined to the root namespace by a
 * veth pair. Names and addresses are random per run; everything is torn down after the tests, and
 * also when the process exits on failure.
 *
 * Without root, only loopback hosts can be made, and they differ in one way: each sshd runs as the
 * user running the tests (an unprivileged sshd can authenticate no one else), so every host serves
 * that login. Each host still has a home of its own, set by sshd (`SetEnv HOME=...`), and a
 * temporary folder of its own (`TMPDIR`), so no host sees another's caches or files.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import fs from "node:fs"
import net from "node:net"
import os from "node:os"
import path from "node:path"

export type HostMode = "netns" | "loopback"

export interface TestHost {
  readonly index: number
  readonly mode: HostMode
  /** Address the client connects to (10.231.x.y in a namespace, 127.0.0.1 on loopback). */
  readonly address: string
  readonly port: number
  readonly user: string
  readonly home: string
  /** `ssh-ed25519 AAAA...` public host key. */
  readonly hostKey: string
  /** The namespace and root-side veth (netns mode). */
  readonly netns?: string
  readonly veth?: string
  /** This machine's address on the host's link (netns mode): what the host reaches this machine at. */
  readonly gateway?: string
  /** Starts sshd (again). */
  readonly start: () => Promise<void>
  /** Kills sshd and every session it serves. */
  readonly killSshd: () => void
  /** Takes the host's link down (netns mode). */
  readonly cutLink: () => void
  /** Brings the host's link back up (netns mode). */
  readonly restoreLink: () => void
  /** Makes the host drop its replies to the client (netns mode): the client sees silence, as from a dead host. */
  readonly silence: (on: boolean) => void
  /** Processes of this host still alive (sshd, sessions, agents). */
  readonly processes: () => number[]
  /** Processes of this host other than its listening sshd: sessions, agents, whatever a client left running. */
  readonly sessions: () => number[]
  /** True when the host serves a login the harness did not create (`options.login`, or the running user without root). */
  readonly sharedLogin?: boolean
}

/** Options of `createHosts`; without any, hosts get random addresses, fresh keys and users. */
export interface CreateHostsOptions {
  /**
   * Extra sshd_config lines per host. They come before the harness's own lines, so they override
   * its defaults (sshd takes a keyword's first value), e.g. `ClientAliveInterval 0` for a stock
   * sshd without keepalive; no `Match` blocks. `SetEnv` lines are merged into the harness's own
   * (sshd honours only the first `SetEnv`); their values must not contain spaces.
   */
  readonly sshdConfig?: (host: { index: number; dir: string; home: string }) => ReadonlyArray<string>
  /**
   * netns only: the address of host `index` (IPv4). It is added to the namespace as a /32 and
   * routed from the root namespace through the host's veth; sshd listens on it.
   */
  readonly address?: (index: number) => string
  /** The host's ed25519 host key (OpenSSH private key text) instead of a generated one. */
  readonly hostKey?: (index: number) => string
  /** More public key lines for every host's authorized_keys. */
  readonly authorizedKeys?: ReadonlyArray<string>
  /**
   * netns only: an existing user every host serves (not created, not deleted by the harness);
   * each host gets its own home, bind-mounted over that user's home in the host's own mount
   * namespace, as separate machines would have.
   */
  readonly login?: string
}

export interface UserKey {
  readonly file: string
  readonly publicLine: string
  readonly privateText: string
}

export interface TestHosts {
  readonly mode: HostMode
  readonly hosts: ReadonlyArray<TestHost>
  readonly dir: string
  /** Keys in every host's authorized_keys. */
  readonly keys: { readonly ed25519: UserKey; readonly rsa: UserKey }
  /** A key no host accepts. */
  readonly wrongKey: UserKey
  /** A known_hosts file listing every host's key. */
  readonly knownHostsFile: string
  /** Kills everything and removes users, namespaces, veths and files. Idempotent. */
  readonly teardown: () => Promise<void>
}

const sh = (cmd: string, args: string[], options: { input?: string; quiet?: boolean } = {}): string =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", options.quiet ? "ignore" : "pipe"], input: options.input ?? "" })

const trySh = (cmd: string, args: string[]) => {
  try {
    sh(cmd, args, { quiet: true })
    return true
  } catch {
    return false
  }
}

const tryShAsync = (cmd: string, args: string[]): Promise<boolean> =>
  new Promise((resolve) => execFile(cmd, args, (error) => resolve(error === null)))

/** True when the tests run without root: hosts are loopback sshd of the running user (see the top of this file). */
export const unprivileged = (): boolean => process.getuid?.() !== 0

/** Why network-namespace hosts cannot be made here, or undefined when they can. */
export const netnsUnavailable = (): string | undefined => {
  if (unprivileged()) return `network namespaces need root, and the tests run as ${os.userInfo().username} (run them as root for the namespace variant)`
  if (!fs.existsSync("/usr/sbin/ip") && !fs.existsSync("/sbin/ip") && !trySh("sh", ["-c", "command -v ip"]))
    return "the ip command is missing (apt-get install iproute2)"
  const probe = `sky-probe-${randomBytes(3).toString("hex")}`
  try {
    sh("ip", ["netns", "add", probe])
  } catch (error) {
    return `cannot create a network namespace: ${(error as Error).message.split("\n")[0]}`
  }
  trySh("ip", ["netns", "del", probe])
  return undefined
}

/**
 * Why no sshd test host can be made here, or undefined. As root, hosts get a user each; without
 * root, loopback hosts log in as the running user, who then needs a login shell that runs commands.
 */
export const sshdUnavailable = (): string | undefined => {
  if (!fs.existsSync("/usr/sbin/sshd")) return "/usr/sbin/sshd is missing (apt-get install openssh-server)"
  if (!trySh("sh", ["-c", "command -v ssh-keygen"])) return "ssh-keygen is missing (apt-get install openssh-client)"
  if (!unprivileged()) return undefined
  const { username, shell } = os.userInfo()
  if (!shell || /\/(nologin|false)$/.test(shell))
    return (
      `without root the loopback test hosts log in as the running user (an unprivileged sshd can authenticate no one else), ` +
      `but ${username}'s login shell is ${shell || "not set"}, which runs no commands: run the tests as a user with a shell such as /bin/sh, or as root`
    )
  return undefined
}

const live = new Set<() => void>()
let exitHooked = false
const hookExit = () => {
  if (exitHooked) return
  exitHooked = true
  const all = () => {
    for (const teardown of [...live]) {
      try {
        teardown()
      } catch {
        // best effort on exit
      }
    }
  }
  process.on("exit", all)
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      all()
      process.exit(130)
    })
}

const keygen = (file: string, type: "ed25519" | "rsa", comment: string): UserKey => {
  sh("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "2048"] : []), "-N", "", "-C", comment, "-f", file])
  return { file, publicLine: fs.readFileSync(`${file}.pub`, "utf8").trim(), privateText: fs.readFileSync(file, "utf8") }
}

/** A TCP port free on 127.0.0.1 now (for a server a test starts). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const waitForPort = async (address: string, port: number, ms: number, child: ChildProcess, log: () => string) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: address, port, timeout: 500 })
      socket.once("connect", () => (socket.destroy(), resolve(true)))
      socket.once("error", () => resolve(false))
      socket.once("timeout", () => (socket.destroy(), resolve(false)))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`sshd on ${address}:${port} did not start: ${log()}`)
}

/** Unused /30 subnets in 10.231.0.0/16 (checked against this machine's addresses). */
const pickSubnets = (count: number): number[] => {
  const used = sh("ip", ["-4", "-o", "addr", "show"])
  const picked: number[] = []
  while (picked.length < count) {
    const block = Math.floor(Math.random() * 16384)
    const [third, fourth] = [block >> 6, (block & 63) * 4]
    if (picked.includes(block) || used.includes(`10.231.${third}.${fourth + 1}/`)) continue
    picked.push(block)
  }
  return picked
}
const subnetAddress = (block: number, host: 0 | 1 | 2) => `10.231.${block >> 6}.${(block & 63) * 4 + host}`

const isZombieOrGone = (pid: number): boolean => {
  try {
    return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  } catch {
    return true
  }
}

/** Pids of processes whose real uid is `uid`, or that descend from `root`. */
const processesOf = (uid: number | undefined, roots: ReadonlyArray<number>): number[] => {
  const parents = new Map<number, number>()
  const owned: number[] = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, "utf8")
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1])
      const ruid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1])
      parents.set(Number(name), ppid)
      if (uid !== undefined && ruid === uid) owned.push(Number(name))
    } catch {
      // gone
    }
  }
  const result = new Set(owned)
  const isDescendant = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; p = parents.get(p), hops++)
      if (roots.includes(p)) return true
    return false
  }
  for (const pid of parents.keys()) if (isDescendant(pid)) result.add(pid)
  return [...result]
}

/** Pids of this user's processes whose environment has `HOME=home` (what sshd gave a host's sessions). */
const processesWithHome = (home: string): number[] => {
  const uid = process.getuid?.()
  const needle = `HOME=${home}\0`
  const found: number[] = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      if (fs.statSync(`/proc/${name}`).uid !== uid) continue
      const environ = fs.readFileSync(`/proc/${name}/environ`, "utf8")
      if (environ.startsWith(needle) || environ.includes(`\0${needle}`)) found.push(Number(name))
    } catch {
      // gone, or not ours
    }
  }
  return found
}

const killAll = (pids: ReadonlyArray<number>) => {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

/**
 * Makes `count` test hosts. `mode` "netns" puts each in its own network namespace (see
 * `netnsUnavailable`), "loopback" runs each sshd on 127.0.0.1 with its own port.
 */
export const createHosts = async (count: number, mode: HostMode, options: CreateHostsOptions = {}): Promise<TestHosts> => {
  if (mode !== "netns" && (options.address !== undefined || options.login !== undefined))
    throw new Error("createHosts: the address and login options need netns mode")
  const asUser = unprivileged()
  if (asUser && mode === "netns") throw new Error(`createHosts: ${netnsUnavailable()}`)
  hookExit()
  const tag = randomBytes(3).toString("hex")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sky-hosts-${tag}-`))
  fs.chmodSync(dir, 0o755)
  // sshd's privilege-separation folder (an unprivileged sshd does without)
  if (!asUser) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 })
  const users: string[] = []
  const namespaces: string[] = []
  const veths: string[] = []
  const blackholes: string[] = []
  const hostList: TestHost[] = []
  const children: ChildProcess[] = []
  let tornDown = false

  /** Kills the hosts' processes and removes their network; returns what is left to remove (users, files). */
  const stopHosts = (): { users: string[]; dir: string } | undefined => {
    if (tornDown) return undefined
    tornDown = true
    live.delete(teardownNow)
    for (const host of hostList) killAll(host.processes())
    for (const child of children) if (child.pid && child.exitCode === null) killAll([child.pid])
    for (const ns of namespaces) {
      try {
        killAll(sh("ip", ["netns", "pids", ns], { quiet: true }).split(/\s+/).filter(Boolean).map(Number))
      } catch {
        // namespace already gone
      }
      trySh("ip", ["netns", "del", ns])
    }
    for (const veth of veths) trySh("ip", ["link", "del", veth])
    for (const subnet of blackholes) trySh("ip", ["route", "del", "blackhole", subnet, "metric", "4242"])
    // an agent killed with its session leaves its temporary folder in /tmp (see agentTmpDir in
    // the transport): remove those of the work folders the hosts still hold
    for (const host of hostList) {
      let left: string[] = []
      try {
        left = fs.readdirSync(path.join(host.home, ".cache/skyward/work"))
      } catch {
        // no work folder
      }
      for (const work of left) fs.rmSync(path.join("/tmp", `skyward-agent-${work}`), { recursive: true, force: true })
    }
    return { users, dir }
  }
  // the hosts share this machine's /tmp: what a host's user left there (a killed agent's temporary
  // folder) goes with the host
  const userTmp = (user: string) => ["/tmp", "-maxdepth", "1", "-user", user, "-exec", "rm", "-rf", "{}", "+"]

  /** At exit: everything at once, synchronously. */
  const teardownNow = () => {
    const left = stopHosts()
    if (left === undefined) return
    for (const user of left.users) {
      trySh("find", userTmp(user))
      // processes may take a moment to die after SIGKILL: userdel refuses a logged-in user
      for (let i = 0; i < 20 && !trySh("userdel", ["-f", user]); i++) execFileSync("sleep", ["0.1"])
    }
    fs.rmSync(left.dir, { recursive: true, force: true })
  }

  /**
   * In a test's afterAll: the slow part (the hosts' homes hold mirrored environments) without
   * blocking the test worker's event loop, which must keep answering vitest.
   */
  const teardown = async () => {
    const left = stopHosts()
    if (left === undefined) return
    for (const user of left.users) {
      await tryShAsync("find", userTmp(user))
      for (let i = 0; i < 20 && !(await tryShAsync("userdel", ["-f", user])); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await fs.promises.rm(left.dir, { recursive: true, force: true })
  }
  live.add(teardownNow)

  try {
    const keys = { ed25519: keygen(path.join(dir, "user_ed25519"), "ed25519", "skyward-test"), rsa: keygen(path.join(dir, "user_rsa"), "rsa", "skyward-test") }
    const wrongKey = keygen(path.join(dir, "wrong_ed25519"), "ed25519", "not-authorized")
    const authorized = path.join(dir, "authorized_keys")
    fs.writeFileSync(authorized, [keys.ed25519.publicLine, keys.rsa.publicLine, ...(options.authorizedKeys ?? [])].map((l) => `${l}\n`).join(""), { mode: 0o644 })
    for (const key of [keys.ed25519, keys.rsa, wrongKey]) fs.chmodSync(key.file, 0o600)
    const subnets = mode === "netns" ? pickSubnets(count) : []

    for (let index = 0; index < count; index++) {
      const hostDir = path.join(dir, `host${index}`)
      const home = path.join(hostDir, "home")
      fs.mkdirSync(hostDir, { mode: 0o755 })
      // without root, every host serves the running user (see the top of this file)
      const shared = options.login ?? (asUser ? os.userInfo().username : undefined)
      const user = shared ?? `sky${tag}u${index}`
      if (shared === undefined) {
        sh("useradd", ["-M", "-d", home, "-s", "/bin/sh", "-p", "*", user])
        users.push(user)
      }
      fs.mkdirSync(home, { mode: 0o755 })
      if (!asUser) sh("chown", [`${user}:`, home])
      const tmp = path.join(hostDir, "tmp")
      if (asUser) fs.mkdirSync(tmp, { mode: 0o700 })
      // a shared login's uid is every host's: its processes are found through the namespace, the
      // sshd's descendants, or (without root) the HOME that sshd gave them
      const uid = shared === undefined ? Number(sh("id", ["-u", user]).trim()) : undefined
      const loginHome = options.login === undefined ? undefined : sh("getent", ["passwd", options.login]).split(":")[5]!
      const hostKeyFile = path.join(hostDir, "ssh_host_ed25519_key")
      if (options.hostKey) {
        fs.writeFileSync(hostKeyFile, options.hostKey(index), { mode: 0o600 })
        fs.writeFileSync(`${hostKeyFile}.pub`, sh("ssh-keygen", ["-y", "-f", hostKeyFile]))
      } else sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `host${index}`, "-f", hostKeyFile])
      const hostKey = fs.readFileSync(`${hostKeyFile}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ")

      let address = "127.0.0.1"
      let port = 22
      let netns: string | undefined
      let veth: string | undefined
      if (mode === "netns") {
        netns = `sky-${tag}-${index}`
        veth = `vs${tag}${index}`
        const peer = `vp${tag}${index}`
        sh("ip", ["netns", "add", netns])
        namespaces.push(netns)
        sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", peer])
        veths.push(veth)
        // while the link is down (a cut), packets to the host are dropped here instead of
        // following the default route off this machine
        const subnet = `${subnetAddress(subnets[index]!, 0)}/30`
        sh("ip", ["route", "add", "blackhole", subnet, "metric", "4242"])
        blackholes.push(subnet)
        sh("ip", ["link", "set", peer, "netns", netns])
        sh("ip", ["addr", "add", `${subnetAddress(subnets[index]!, 1)}/30`, "dev", veth])
        sh("ip", ["link", "set", veth, "up"])
        address = subnetAddress(subnets[index]!, 2)
        sh("ip", ["netns", "exec", netns, "ip", "addr", "add", `${address}/30`, "dev", peer])
        sh("ip", ["netns", "exec", netns, "ip", "link", "set", peer, "up"])
        sh("ip", ["netns", "exec", netns, "ip", "link", "set", "lo", "up"])
        const given = options.address?.(index)
        if (given !== undefined) {
          // the given address lives in the namespace too, reached through the /30 link
          sh("ip", ["route", "add", "blackhole", `${given}/32`, "metric", "4242"])
          blackholes.push(`${given}/32`)
          sh("ip", ["netns", "exec", netns, "ip", "addr", "add", `${given}/32`, "dev", peer])
          sh("ip", ["route", "add", `${given}/32`, "via", address, "dev", veth])
          address = given
        }
      } else {
        port = await freePort()
      }

      const extra = options.sshdConfig?.({ index, dir: hostDir, home }) ?? []
      const isSetEnv = (line: string) => /^\s*SetEnv\s/i.test(line)
      // sshd honours only its first SetEnv: one line with the harness's variables and the caller's
      const setEnv = [...(asUser ? [`HOME=${home}`, `TMPDIR=${tmp}`] : []), ...extra.filter(isSetEnv).flatMap((line) => line.trim().split(/\s+/).slice(1))]
      const config = path.join(hostDir, "sshd_config")
      fs.writeFileSync(
        config,
        [
          // first: sshd takes a keyword's first value, so the caller's lines override the defaults below
          ...extra.filter((line) => !isSetEnv(line)),
          `Port ${port}`,
          `ListenAddress ${address}`,
          `HostKey ${path.join(hostDir, "ssh_host_ed25519_key")}`,
          `PidFile ${path.join(hostDir, "sshd.pid")}`,
          `AuthorizedKeysFile ${authorized}`,
          `AllowUsers ${user}`,
          "PubkeyAuthentication yes",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "UsePAM no",
          "StrictModes no",
          "PermitRootLogin no",
          "AllowTcpForwarding yes",
          "ClientAliveInterval 5",
          "ClientAliveCountMax 3",
          "MaxStartups 50",
          "MaxSessions 50",
          "Subsystem sftp internal-sftp",
          "LogLevel ERROR",
          ...(setEnv.length > 0 ? [`SetEnv ${setEnv.join(" ")}`] : []),
          ""
        ].join("\n")
      )
      let sshd: ChildProcess | undefined
      let log = ""
      const start = async () => {
        const sshdArgv = ["/usr/sbin/sshd", "-D", "-e", "-f", config]
        // `ip netns exec` runs in a mount namespace of its own: the bind mount stays this host's
        const argv = loginHome === undefined ? sshdArgv : ["sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", home, loginHome, ...sshdArgv]
        const child = netns ? spawn("ip", ["netns", "exec", netns, ...argv], { stdio: ["ignore", "ignore", "pipe"] }) : spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] })
        child.stderr!.on("data", (chunk: Buffer) => {
          log = (log + chunk.toString()).slice(-4000)
        })
        children.push(child)
        sshd = child
        await waitForPort(address, port, 10_000, child, () => log)
      }
      const processes = () => {
        const roots = children.map((c) => c.pid).filter((p): p is number => p !== undefined)
        const fromNs = netns
          ? (() => {
              try {
                return sh("ip", ["netns", "pids", netns!], { quiet: true }).split(/\s+/).filter(Boolean).map(Number)
              } catch {
                return []
              }
            })()
          : []
        const byHome = asUser && options.login === undefined ? processesWithHome(home) : []
        const all = [...new Set([...fromNs, ...byHome, ...processesOf(uid, sshd?.exitCode === null ? roots.filter((p) => p === sshd?.pid) : [])])]
        return all.filter((pid) => !isZombieOrGone(pid))
      }
      const host: TestHost = {
        index,
        mode,
        address,
        port,
        user,
        home,
        hostKey,
        ...(netns ? { netns, veth: veth!, gateway: subnetAddress(subnets[index]!, 1) } : {}),
        ...(shared === undefined ? {} : { sharedLogin: true }),
        start,
        killSshd: () => killAll(processes()),
        cutLink: () => {
          if (!veth) throw new Error("cutLink needs a namespace host")
          sh("ip", ["link", "set", veth, "down"])
        },
        silence: (on) => {
          if (!netns) throw new Error("silence needs a namespace host")
          sh("ip", ["netns", "exec", netns, "ip", "route", on ? "add" : "del", "blackhole", `${subnetAddress(subnets[index]!, 1)}/32`])
        },
        restoreLink: () => {
          if (!veth) throw new Error("restoreLink needs a namespace host")
          sh("ip", ["link", "set", veth, "up"])
        },
        processes,
        sessions: () => processes().filter((pid) => pid !== sshd?.pid)
      }
      hostList.push(host)
      await start()
    }

    const knownHostsFile = path.join(dir, "known_hosts")
    fs.writeFileSync(
      knownHostsFile,
      hostList.map((h) => `${h.port === 22 ? h.address : `[${h.address}]:${h.port}`} ${h.hostKey}\n`).join("")
    )
    return { mode, hosts: hostList, dir, keys, wrongKey, knownHostsFile, teardown }
  } catch (error) {
    teardownNow()
    throw error
  }
}

/** What a finished test left behind: namespaces, sshd processes and agents of this run's hosts. */
export const leftovers = (hosts: TestHosts): string[] => {
  const found: string[] = []
  const namespaces = hosts.mode === "netns" ? sh("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0]!) : []
  for (const host of hosts.hosts) {
    if (host.netns && namespaces.includes(host.netns)) found.push(`namespace ${host.netns}`)
    for (const pid of host.processes()) {
      let cmd = "?"
      try {
        cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim()
      } catch {
        continue
      }
      found.push(`process ${pid} (${cmd}) of host ${host.index}`)
    }
  }
  for (const host of hosts.hosts) if (!host.sharedLogin && trySh("id", [host.user])) found.push(`user ${host.user}`)
  if (fs.existsSync(hosts.dir)) found.push(`folder ${hosts.dir}`)
  return found
}

/** Processes of a host (not sshd itself) whose command line runs the Skyward agent. */
export const agentProcesses = (host: TestHost): number[] =>
  host.processes().filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("skyward_worker")
    } catch {
      return false
    }
  })
