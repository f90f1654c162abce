import { Data } from "effect"

/** A private key could not be read or parsed (missing file, bad passphrase, unknown format). */
export class SshKeyError extends Data.TaggedError("SshKeyError")<{
  readonly key: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** The server refused the user's key: never retried. */
export class SshAuthError extends Data.TaggedError("SshAuthError")<{
  readonly host: string
  readonly port: number
  readonly user: string
  readonly key: string
  readonly message: string
}> {}

/** The server's host key was not accepted (changed, unknown, not the pinned one, revoked): never retried. */
export class SshHostKeyError extends Data.TaggedError("SshHostKeyError")<{
  readonly host: string
  readonly port: number
  readonly reason: "changed" | "unknown" | "mismatch" | "revoked"
  /** `SHA256:...` fingerprint of the key the server presented. */
  readonly fingerprint: string
  readonly message: string
}> {}

/** The TCP connection or SSH handshake failed; `transient` failures (refused, timeout) are retried. */
export class SshConnectError extends Data.TaggedError("SshConnectError")<{
  readonly host: string
  readonly port: number
  readonly transient: boolean
  readonly message: string
  readonly cause?: unknown
}> {}

/** A command or SFTP operation over an open connection failed. */
export class SshChannelError extends Data.TaggedError("SshChannelError")<{
  readonly host: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** Every way opening an SSH connection can fail. */
export type SshOpenError = SshKeyError | SshAuthError | SshHostKeyError | SshConnectError
