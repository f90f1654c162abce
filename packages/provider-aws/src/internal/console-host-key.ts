import { GetConsoleOutputCommand, type EC2Client } from "@aws-sdk/client-ec2"
import { Effect } from "effect"
import { toCallError, type AwsCallError } from "./errors.js"

/** What an instance's console output says of its SSH host key. */
export type ConsoleHostKey =
  /** Not printed yet (the instance is still booting, or EC2 has not posted the output yet). */
  | { readonly _tag: "NotYet" }
  /** The one ed25519 host key it printed, as `ssh-ed25519 AAAA...`. */
  | { readonly _tag: "Found"; readonly key: string }
  /** More than one ed25519 key: none is trusted. */
  | { readonly _tag: "Ambiguous"; readonly keys: ReadonlyArray<string> }

const BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
const END = "-----END SSH HOST KEY KEYS-----"

/** True when `blob` is the base64 of an ssh-ed25519 public key (type name, then 32 bytes). */
const isEd25519Blob = (blob: string): boolean => {
  const bytes = Buffer.from(blob, "base64")
  const nameLength = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1
  if (nameLength !== 11 || bytes.subarray(4, 15).toString("latin1") !== "ssh-ed25519") return false
  return bytes.length === 51 && bytes.readUInt32BE(15) === 32
}

/**
 * Reads the ed25519 host key from an instance's console output: the key lines cloud-init prints
 * between `-----BEGIN SSH HOST KEY KEYS-----` and `-----END SSH HOST KEY KEYS-----` (bare, or
 * behind a syslog or kernel prefix). The same key printed again (a reboot) is one key.
 */
export const hostKeyFromConsole = (output: string): ConsoleHostKey => {
  const keys = new Set<string>()
  let inside = false
  for (const line of output.split(/\r?\n|\r/)) {
    if (line.includes(BEGIN)) inside = true
    else if (line.includes(END)) inside = false
    else if (inside) {
      const match = /(?:^|\s)ssh-ed25519 (AAAA[0-9A-Za-z+/]+={0,2})(?:\s|$)/.exec(line)
      if (match && isEd25519Blob(match[1]!)) keys.add(`ssh-ed25519 ${match[1]}`)
    }
  }
  const found = [...keys]
  if (found.length === 0) return { _tag: "NotYet" }
  return found.length === 1 ? { _tag: "Found", key: found[0]! } : { _tag: "Ambiguous", keys: found }
}

/** Reads an instance's host key as its console shows it now; fails only when it never could (no permission). */
export type HostKeyReader = (instanceId: string) => Effect.Effect<ConsoleHostKey, AwsCallError>

/** Error codes that no later call will answer differently. */
const PERMANENT = new Set(["UnauthorizedOperation", "AccessDenied", "AccessDeniedException"])

/**
 * The host key reader of a real EC2: GetConsoleOutput (IAM action `ec2:GetConsoleOutput`), its
 * latest output where the instance type has one (Nitro), else what EC2 posted. A failed call
 * reads as "not yet" (polled again), unless it lacks the permission.
 */
export const consoleHostKeyReader =
  (ec2: EC2Client): HostKeyReader =>
  (instanceId) => {
    const read = (latest: boolean) =>
      Effect.tryPromise({
        try: () => ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId, ...(latest ? { Latest: true } : {}) })),
        catch: toCallError("GetConsoleOutput")
      })
    return read(true).pipe(
      // older (Xen) instance types have no "latest" console output
      Effect.catchIf((e) => e.code === "UnsupportedOperation" || e.code === "InvalidParameterCombination", () => read(false)),
      Effect.map((out) => hostKeyFromConsole(Buffer.from(out.Output ?? "", "base64").toString("utf8"))),
      Effect.catchIf((e) => !PERMANENT.has(e.code), (): Effect.Effect<ConsoleHostKey> => Effect.succeed({ _tag: "NotYet" }))
    )
  }
