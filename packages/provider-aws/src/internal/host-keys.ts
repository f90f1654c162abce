import { generateKeyPairSync, randomBytes } from "node:crypto"

/** An ed25519 key pair in OpenSSH formats. */
export interface Ed25519KeyPair {
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` text (unencrypted), as sshd and ssh2 read it. */
  readonly privateKey: string
  /** `ssh-ed25519 AAAA... comment`, as in authorized_keys or a `.pub` file. */
  readonly publicKey: string
  /** `ssh-ed25519 AAAA...` without the comment: what the transport pins. */
  readonly publicKeyLine: string
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
const sshString = (data: Buffer | string) => {
  const bytes = typeof data === "string" ? Buffer.from(data) : data
  return Buffer.concat([u32(bytes.length), bytes])
}

/**
 * Generates an ed25519 key pair with node:crypto and writes it in the OpenSSH formats
 * (`openssh-key-v1` private key, `ssh-ed25519` public line): used for the pool's login key and
 * for each instance's host key, which the client therefore knows before the instance boots.
 */
export const generateEd25519 = (comment: string): Ed25519KeyPair => {
  const { privateKey } = generateKeyPairSync("ed25519")
  const jwk = privateKey.export({ format: "jwk" })
  const seed = Buffer.from(jwk.d!, "base64url")
  const pub = Buffer.from(jwk.x!, "base64url")
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)])
  const check = randomBytes(4)
  let section = Buffer.concat([check, check, sshString("ssh-ed25519"), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)])
  const pad = (8 - (section.length % 8)) % 8
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))])
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    u32(1),
    sshString(publicBlob),
    sshString(section)
  ]).toString("base64")
  const lines = body.match(/.{1,70}/g) ?? []
  const publicKeyLine = `ssh-ed25519 ${publicBlob.toString("base64")}`
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `${publicKeyLine} ${comment}`,
    publicKeyLine
  }
}
