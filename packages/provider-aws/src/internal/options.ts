import type { SshTransportOptions } from "@skyward/transport-ssh"
import { parseGpu } from "./gpu.js"

/** How instances are bought. */
export type Allocation = "spot" | "on-demand" | "spot-if-available"

/** Where the client reaches instances: their public address, or their private one (clients inside the VPC). */
export type AddressKind = "public" | "private"

/** Where to find AWS: region, endpoint, profile. Shared by the provider and `skyward ls` / `skyward down`. */
export interface AwsConnection {
  /** Default: the SDK's chain (`AWS_REGION`, the profile's `region`). */
  readonly region?: string
  /** A profile of `~/.aws/config` (default: `AWS_PROFILE`, else `default`). */
  readonly profile?: string
  /** Another EC2/SSM endpoint (an emulator such as moto, a VPC endpoint). */
  readonly endpoint?: string
}

/** Options of the `aws()` provider. */
export interface AwsProviderOptions
  extends AwsConnection,
    Omit<SshTransportOptions, "targetOf" | "knownHostsFiles" | "trustOnFirstUse" | "knownHostsRecordFile"> {
  /** Default `c6i.large`, or the cheapest type with `vcpus`, `memory` and `gpu` when any is given (this wins over them). */
  readonly instanceType?: string
  /** vCPUs each machine needs at least: with `memory` and `gpu`, picks the cheapest fitting instance type of the region. */
  readonly vcpus?: number
  /** GiB of memory each machine needs at least. */
  readonly memory?: number
  /** GPUs each machine needs: `TYPE[:count]` as EC2 names them (`T4`, `A10G:4`), or a count of any (`1`). */
  readonly gpu?: string
  /** An AMI id; default: the latest Ubuntu LTS for the instance type's architecture, from `amiParameter`. */
  readonly ami?: string
  /**
   * The public SSM parameter holding the AMI id; `{arch}` becomes `amd64` or `arm64`, and
   * `{version}` the newest Ubuntu LTS (`YY.04`, even `YY`) whose parameter exists in the region.
   * Default `/aws/service/canonical/ubuntu/server/{version}/stable/current/{arch}/hvm/ebs-gp3/ami-id`;
   * pin a release by writing it out (`.../server/24.04/stable/...`).
   */
  readonly amiParameter?: string
  /** Subnet to launch in; default: the region's default VPC (EC2 picks the subnet). */
  readonly subnetId?: string
  /**
   * Security groups to attach instead of the pool's own; when given, no group is created and
   * `sshCidr` is not used (SSH access is then up to those groups).
   */
  readonly securityGroupIds?: ReadonlyArray<string>
  /** Default `spot-if-available`: spot, else on-demand on capacity or price errors. */
  readonly allocation?: Allocation
  /**
   * Minutes an instance lives without an SSH session of `user` before its watchdog powers it off
   * (and EC2 terminates it). Default 30; 0 disables the watchdog.
   */
  readonly ttl?: number
  /**
   * Who may reach port 22 (the pool's security group allows only this). Default: this machine's
   * public address as a /32 (with `address: "public"`), the VPC's CIDR (with `address: "private"`).
   * `0.0.0.0/0` is used only when given here.
   */
  readonly sshCidr?: string
  /** Default `public`. */
  readonly address?: AddressKind
  /** Login of the AMI. Default `ubuntu`. */
  readonly user?: string
  /** What the watchdog runs to power the instance off. Default `systemctl poweroff`. */
  readonly powerOffCommand?: string
  /** Seconds allowed for all instances to be running and reachable on port 22. Default 600. */
  readonly bootTimeout?: number
  /** Seconds between state polls. Default 5. */
  readonly pollInterval?: number
  /**
   * An IAM role for the instances, so their agents read the pool's S3 volumes as the instance
   * (no credentials of yours are sent): the name (or ARN) of an existing instance profile, attached
   * to every instance (you need `iam:PassRole` on its role); or `"pool"`: the provider makes, for
   * this pool, a role `skyward-<pool>` that EC2 may assume, with an inline policy allowing
   * `s3:ListBucket` under each S3 volume's prefix and `s3:GetObject` (`s3:PutObject` too when the
   * volume is writable) on its objects, and an instance profile `skyward-<pool>` holding it (both
   * under the IAM path `/skyward/<region>/`); all deleted when the pool closes. `"pool"` needs an `s3://`
   * volume. Default: none (the instances have no role; `s3VolumeAccess` then sends short-lived
   * credentials).
   */
  readonly instanceProfile?: string
  /** Extra tags on everything created. */
  readonly tags?: Readonly<Record<string, string>>
  /**
   * USD per hour of on-demand instance types, over the package's dated price list (which has the
   * common types of us-east-1, us-east-2, us-west-2 and eu-west-1). Spot prices are asked from EC2.
   */
  readonly onDemandPrices?: Readonly<Record<string, number>>
}

/** The options with defaults applied. */
export interface ResolvedAwsOptions {
  /** Undefined: chosen from `vcpus`, `memory` and `gpu` when the pool prepares. */
  readonly instanceType: string | undefined
  readonly amiParameter: string
  readonly allocation: Allocation
  readonly ttl: number
  readonly address: AddressKind
  readonly user: string
  readonly powerOffCommand: string
  readonly bootTimeoutMs: number
  readonly pollIntervalMs: number
}

/** The default AMI parameter: Canonical's current gp3 AMI of the newest Ubuntu LTS that has one (`{version}`). */
export const DEFAULT_AMI_PARAMETER = "/aws/service/canonical/ubuntu/server/{version}/stable/current/{arch}/hvm/ebs-gp3/ami-id"

/** Tag keys every resource of a pool carries. */
export const POOL_TAG = "skyward:pool"
/** Tag marking a resource as Skyward's. */
export const MANAGED_TAG = "skyward:managed"

/** Whether the options ask for machines by what they have (`vcpus`, `memory`, `gpu`). */
export const wantsResources = (options: AwsProviderOptions): boolean =>
  options.vcpus !== undefined || options.memory !== undefined || options.gpu !== undefined

/** Applies the defaults. */
export const resolveOptions = (options: AwsProviderOptions): ResolvedAwsOptions => ({
  instanceType: options.instanceType ?? (wantsResources(options) ? undefined : "c6i.large"),
  amiParameter: options.amiParameter ?? DEFAULT_AMI_PARAMETER,
  allocation: options.allocation ?? "spot-if-available",
  ttl: options.ttl ?? 30,
  address: options.address ?? "public",
  user: options.user ?? "ubuntu",
  powerOffCommand: options.powerOffCommand ?? "systemctl poweroff",
  bootTimeoutMs: Math.round((options.bootTimeout ?? 600) * 1000),
  pollIntervalMs: Math.round((options.pollInterval ?? 5) * 1000)
})

/** The first invalid option, as `[field, message]`, or undefined. */
export const checkOptions = (options: AwsProviderOptions): readonly [string, string] | undefined => {
  const allocations = ["spot", "on-demand", "spot-if-available"]
  if (options.allocation !== undefined && !allocations.includes(options.allocation))
    return ["allocation", `must be one of ${allocations.join(", ")}`]
  if (options.address !== undefined && options.address !== "public" && options.address !== "private")
    return ["address", 'must be "public" or "private"']
  if (options.ttl !== undefined && !(Number.isFinite(options.ttl) && options.ttl >= 0)) return ["ttl", "must be a number of minutes >= 0 (0: no watchdog)"]
  if (options.bootTimeout !== undefined && !(options.bootTimeout > 0)) return ["bootTimeout", "must be a positive number of seconds"]
  if (options.pollInterval !== undefined && !(options.pollInterval > 0)) return ["pollInterval", "must be a positive number of seconds"]
  if (options.sshCidr !== undefined && !isCidr(options.sshCidr)) return ["sshCidr", `${JSON.stringify(options.sshCidr)} is not an IPv4 CIDR such as 203.0.113.7/32`]
  if (options.powerOffCommand !== undefined && (options.powerOffCommand.trim() === "" || /[\n\r]/.test(options.powerOffCommand)))
    return ["powerOffCommand", "must be one non-empty shell command line"]
  if (options.user !== undefined && !/^[a-z_][a-z0-9_.-]*$/i.test(options.user)) return ["user", `${JSON.stringify(options.user)} is not a login name`]
  if (options.vcpus !== undefined && !(Number.isInteger(options.vcpus) && options.vcpus > 0)) return ["vcpus", "must be a whole number of vCPUs > 0"]
  if (options.memory !== undefined && !(Number.isFinite(options.memory) && options.memory > 0)) return ["memory", "must be a number of GiB > 0"]
  if (options.gpu !== undefined && parseGpu(options.gpu) === undefined)
    return ["gpu", `${JSON.stringify(options.gpu)}: expected TYPE[:count] as EC2 names GPUs (T4, A10G:4) or a count of any GPU (1)`]
  if (options.instanceProfile !== undefined && !isInstanceProfile(options.instanceProfile))
    return [
      "instanceProfile",
      `${JSON.stringify(options.instanceProfile)}: expected the name or ARN of an existing instance profile, or "pool" (one made for the pool's S3 volumes)`
    ]
  for (const [type, price] of Object.entries(options.onDemandPrices ?? {}))
    if (!(Number.isFinite(price) && price >= 0)) return ["onDemandPrices", `${type}: ${JSON.stringify(price)} is not a price in USD per hour`]
  return undefined
}

/** True for "pool", an IAM instance profile name, or an instance profile's ARN. */
const isInstanceProfile = (value: unknown): boolean =>
  typeof value === "string" && (/^[\w+=,.@-]{1,128}$/.test(value) || /^arn:aws[\w-]*:iam::\d{12}:instance-profile\/[\w+=,.@/-]{1,512}$/.test(value))

/** True for an IPv4 CIDR (`a.b.c.d/n`). */
export const isCidr = (text: string): boolean => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text)
  return m !== null && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32
}
