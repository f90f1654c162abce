/**
 * An EC2 emulator for end-to-end tests without a cloud: it watches moto's instances in a VPC and
 * subnet of its own (10.77.R.0/24, R random) and backs each new instance with one of the SSH
 * harness's namespace hosts, at the instance's private address, doing what cloud-init does with
 * the instance's user-data: the login key authorized; the host key given (`ssh_keys`) or else made
 * on the "instance" (`ssh_genkeytypes`), and printed to its console output (GetConsoleOutput) as
 * cloud-init's keys-to-console does; sshd as stock (no keepalive) plus the user-data's drop-ins
 * under /etc/ssh/sshd_config.d. It runs the user-data's watchdog inside that namespace, but only
 * when its power-off command is the one the test gave (which stops that namespace's sshd): a real
 * power-off never runs. A terminated instance's host is torn down.
 *
 * Traffic: the whole subnet is blackholed in the root namespace, so an address not (yet)
 * backed by a host goes nowhere; a backed address is routed into its namespace.
 */
import { execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  type Instance
} from "@aws-sdk/client-ec2"
import { createHosts, type TestHosts } from "../../../transport-ssh/test/harness/hosts.js"
import { generateEd25519 } from "../../src/internal/host-keys.js"
import { WATCHDOG_PATH } from "../../src/internal/user-data.js"
import type { Moto } from "./moto.js"

/** The power-off command tests give the provider: stops the sshd of the namespace it runs in. */
export const TEST_POWER_OFF = 'kill "$(cat "$SKYWARD_EMULATOR_SSHD_PIDFILE")"'

/** The cloud-config fields the emulator reads. */
interface CloudConfig {
  readonly ssh_keys?: { readonly ed25519_private?: string; readonly ed25519_public?: string }
  readonly ssh_genkeytypes?: ReadonlyArray<string>
  readonly ssh?: { readonly emit_keys_to_console?: boolean }
  readonly ssh_authorized_keys?: ReadonlyArray<string>
  readonly write_files?: ReadonlyArray<{ readonly path: string; readonly content: string }>
}

/** What the emulator needs of moto: its EC2 API, and the instances' console output it serves. */
export type EmulatorCloud = Pick<Moto, "ec2" | "writeConsole">

/** sshd_config of a stock image, where the harness's defaults differ: no keepalive of clients. */
const STOCK_SSHD = ["ClientAliveInterval 0"]

/** One backed instance. */
export interface EmulatedInstance {
  readonly instanceId: string
  readonly address: string
  readonly hosts: TestHosts
  /** The user-data the instance booted with. */
  readonly userData: string
  /** The host key its sshd serves (OpenSSH private key text). */
  readonly hostKey: string
  /** Whether the watchdog runs. */
  readonly watchdog: boolean
  /** The sshd pid file of the host. */
  readonly sshdPidFile: string
}

export interface Emulator {
  readonly vpcId: string
  readonly subnetId: string
  readonly vpcCidr: string
  readonly subnetCidr: string
  /** The login every emulated instance serves (the provider's `user`). */
  readonly login: string
  /** Backed instances by id (live ones). */
  readonly instances: ReadonlyMap<string, EmulatedInstance>
  /** Ids of instances whose host was torn down after they terminated. */
  readonly retired: ReadonlySet<string>
  /** The host key every instance ever backed served (OpenSSH private key text), by instance id. */
  readonly hostKeys: ReadonlyMap<string, string>
  /** Problems seen (a bad user-data, a host that failed to start). */
  readonly problems: ReadonlyArray<string>
  /** Waits until the emulator has caught up with moto (one more full poll). */
  readonly settle: () => Promise<void>
  readonly stop: () => Promise<void>
}

export interface EmulatorOptions {
  /** Instances not to back (their SSH never answers). */
  readonly skip?: (instance: Instance) => boolean
  /** Milliseconds between polls. Default 200. */
  readonly pollMs?: number
  /** A host key (OpenSSH private key text) to serve instead of the instance's own, as an impostor would. */
  readonly impostorKey?: (instance: Instance) => string | undefined
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
const trySh = (cmd: string, args: string[]) => {
  try {
    sh(cmd, args)
    return true
  } catch {
    return false
  }
}

/** Parses user-data written as `#cloud-config` + JSON (the provider's form). */
export const parseCloudConfig = (userData: string): CloudConfig => {
  const [first, ...rest] = userData.split("\n")
  if (first?.trim() !== "#cloud-config") throw new Error("user-data is not a #cloud-config")
  return JSON.parse(rest.join("\n")) as CloudConfig
}

const pickSubnet = (): number => {
  const used = sh("ip", ["-4", "-o", "route", "show"]) + sh("ip", ["-4", "-o", "addr", "show"])
  for (let i = 0; i < 100; i++) {
    const r = Math.floor(Math.random() * 256)
    if (!used.includes(`10.77.${r}.`)) return r
  }
  throw new Error("no free 10.77.x.0/24 subnet")
}

let exitHooked = false
const onExit = new Set<() => void>()

/** The sshd_config lines of the user-data's drop-ins (`/etc/ssh/sshd_config.d/*.conf`), in file order. */
const sshdDropIns = (config: CloudConfig): string[] =>
  (config.write_files ?? [])
    .filter((f) => /^\/etc\/ssh\/sshd_config\.d\/[^/]+\.conf$/.test(f.path))
    .sort((a, b) => a.path.localeCompare(b.path))
    .flatMap((f) => f.content.split("\n").map((l) => l.trim()))
    .filter((l) => l !== "" && !l.startsWith("#"))

/** The host key pair of an instance as cloud-init makes it: the user-data's, else one made on the instance. */
const instanceHostKey = (config: CloudConfig, instanceId: string): { privateKey: string; publicKeyLine: string } | string => {
  const given = config.ssh_keys?.ed25519_private
  if (given !== undefined) return { privateKey: given, publicKeyLine: (config.ssh_keys?.ed25519_public ?? "").split(" ").slice(0, 2).join(" ") }
  if (config.ssh_genkeytypes !== undefined && !config.ssh_genkeytypes.includes("ed25519")) return "no ed25519 host key: none in ssh_keys, none in ssh_genkeytypes"
  return generateEd25519(`root@${instanceId}`)
}

/** What cloud-init prints on the serial console when the instance has booted, with its host key (keys-to-console). */
export const cloudInitConsole = (publicKeyLine: string | undefined, instanceId: string): string =>
  [
    "[    0.000000] Linux version 6.8.0-1012-aws (buildd@lcy02-amd64-050) #13-Ubuntu SMP",
    `[    9.412339] cloud-init[611]: Cloud-init v. 24.1.3 running 'modules:config' at ${new Date().toUTCString()}.`,
    ...(publicKeyLine === undefined
      ? []
      : [
          "<14>Jan  1 00:00:10 cloud-init: #############################################################",
          "<14>Jan  1 00:00:10 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----",
          `<14>Jan  1 00:00:10 cloud-init: 256 SHA256:${publicKeyLine.split(" ")[1]!.slice(0, 43)} root@${instanceId} (ED25519)`,
          "<14>Jan  1 00:00:10 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----",
          "<14>Jan  1 00:00:10 cloud-init: #############################################################",
          "-----BEGIN SSH HOST KEY KEYS-----",
          `${publicKeyLine} root@${instanceId}`,
          "-----END SSH HOST KEY KEYS-----"
        ]),
    `[   11.027711] cloud-init[702]: Cloud-init v. 24.1.3 finished at ${new Date().toUTCString()}. Up 11.02 seconds`,
    ""
  ].join("\r\n")

/** Starts the emulator: creates its VPC, subnet and login, and starts watching moto. */
export const startEmulator = async (cloud: EmulatorCloud, options: EmulatorOptions = {}): Promise<Emulator> => {
  const { ec2 } = cloud
  if (!exitHooked) {
    exitHooked = true
    process.on("exit", () => {
      for (const f of [...onExit]) f()
    })
  }
  const tag = randomBytes(3).toString("hex")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sky-emu-${tag}-`))
  fs.chmodSync(dir, 0o755)
  const login = `skyemu${tag}`
  const loginHome = path.join(dir, "home")
  fs.mkdirSync(loginHome, { mode: 0o755 })
  sh("useradd", ["-M", "-d", loginHome, "-s", "/bin/sh", "-p", "*", login])
  sh("chown", [`${login}:`, loginHome])
  const r = pickSubnet()
  const vpcCidr = "10.77.0.0/16"
  const subnetCidr = `10.77.${r}.0/24`
  sh("ip", ["route", "add", "blackhole", subnetCidr])
  const cleanupLocal = () => {
    trySh("ip", ["route", "del", "blackhole", subnetCidr])
    for (let i = 0; i < 20 && !trySh("userdel", ["-f", login]); i++) execFileSync("sleep", ["0.1"])
    fs.rmSync(dir, { recursive: true, force: true })
  }
  onExit.add(cleanupLocal)
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: vpcCidr }))).Vpc!.VpcId!
  const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: subnetCidr }))).Subnet!.SubnetId!

  const instances = new Map<string, EmulatedInstance>()
  const starting = new Set<string>()
  const retired = new Set<string>()
  const hostKeys = new Map<string, string>()
  const problems: string[] = []
  let stopped = false
  let polls = 0

  const back = async (instance: Instance) => {
    const instanceId = instance.InstanceId!
    const address = instance.PrivateIpAddress!
    const attribute = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: "userData" }))
    const userData = Buffer.from(attribute.UserData?.Value ?? "", "base64").toString("utf8")
    const config = parseCloudConfig(userData)
    const own = instanceHostKey(config, instanceId)
    if (typeof own === "string") throw new Error(`${instanceId}: ${own}`)
    const hostKey = options.impostorKey?.(instance) ?? own.privateKey
    hostKeys.set(instanceId, hostKey)
    const hosts = await createHosts(1, "netns", {
      address: () => address,
      hostKey: () => hostKey,
      authorizedKeys: config.ssh_authorized_keys ?? [],
      login,
      sshdConfig: () => [...sshdDropIns(config), ...STOCK_SSHD]
    })
    const host = hosts.hosts[0]!
    const sshdPidFile = path.join(hosts.dir, "host0", "sshd.pid")
    // each instance's home holds a marker naming it, to tell the machines apart
    fs.writeFileSync(path.join(host.home, ".skyaws-marker"), instanceId)
    if (!options.impostorKey && config.ssh_keys?.ed25519_public && own.publicKeyLine !== host.hostKey)
      problems.push(`${instanceId}: ed25519_public does not match ed25519_private`)
    // booted: the console shows the instance's own key (an impostor on the way serves another)
    cloud.writeConsole(instanceId, cloudInitConsole(config.ssh?.emit_keys_to_console === false ? undefined : own.publicKeyLine || host.hostKey, instanceId))
    const script = config.write_files?.find((f) => f.path === WATCHDOG_PATH)?.content
    let watchdog = false
    if (script !== undefined) {
      // only the test's power-off command may run here: never a real power-off
      const lines = script.split("\n").map((l) => l.trim())
      if (lines.includes(TEST_POWER_OFF) && !/\b(poweroff|shutdown|halt|reboot)\b/.test(script.replace(/powering off/g, ""))) {
        const file = path.join(hosts.dir, "watchdog.sh")
        fs.writeFileSync(file, script, { mode: 0o700 })
        spawn("ip", ["netns", "exec", host.netns!, "sh", file], {
          stdio: "ignore",
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SKYWARD_EMULATOR_SSHD_PIDFILE: sshdPidFile }
        })
        watchdog = true
      } else problems.push(`${instanceId}: watchdog not run: its power-off command is not the test's`)
    }
    instances.set(instanceId, { instanceId, address, hosts, userData, hostKey, watchdog, sshdPidFile })
  }

  const poll = async () => {
    const reservations = (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "subnet-id", Values: [subnetId] }] }))).Reservations ?? []
    const seen = reservations.flatMap((res) => res.Instances ?? [])
    for (const instance of seen) {
      const id = instance.InstanceId!
      const state = instance.State?.Name ?? ""
      if ((state === "pending" || state === "running") && !instances.has(id) && !starting.has(id) && !retired.has(id)) {
        if (options.skip?.(instance)) {
          retired.add(id)
          continue
        }
        starting.add(id)
        await back(instance)
          .catch((error: Error) => problems.push(`${id}: ${error.message}`))
          .finally(() => starting.delete(id))
      } else if (state !== "pending" && state !== "running" && instances.has(id)) {
        await instances.get(id)!.hosts.teardown()
        instances.delete(id)
        retired.add(id)
      }
    }
  }

  const loop = (async () => {
    while (!stopped) {
      await poll().catch((error: Error) => problems.push(`poll: ${error.message}`))
      polls++
      await new Promise((res) => setTimeout(res, options.pollMs ?? 200))
    }
  })()

  return {
    vpcId,
    subnetId,
    vpcCidr,
    subnetCidr,
    login,
    instances,
    retired,
    hostKeys,
    problems,
    settle: async () => {
      const target = polls + 2
      while (polls < target && !stopped) await new Promise((res) => setTimeout(res, 50))
    },
    stop: async () => {
      stopped = true
      await loop
      for (const instance of instances.values()) await instance.hosts.teardown()
      instances.clear()
      await ec2.send(new DeleteSubnetCommand({ SubnetId: subnetId })).catch(() => undefined)
      await ec2.send(new DeleteVpcCommand({ VpcId: vpcId })).catch(() => undefined)
      cleanupLocal()
      onExit.delete(cleanupLocal)
    }
  }
}
