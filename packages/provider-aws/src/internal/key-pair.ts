import { DeleteKeyPairCommand, ImportKeyPairCommand, type EC2Client, type Tag } from "@aws-sdk/client-ec2"
import { Effect, type Scope } from "effect"
import { toCallError, warnOnFailure, type AwsCallError } from "./errors.js"
import { generateEd25519, type Ed25519KeyPair } from "./host-keys.js"
import { tagSpec } from "./tags.js"

/** The pool's login key: its EC2 key pair, and the private key the client logs in with. */
export interface PoolKeyPair {
  readonly name: string
  readonly id: string | undefined
  readonly key: Ed25519KeyPair
}

/**
 * Generates an ephemeral ed25519 login key on the client and imports its public half as an EC2
 * key pair named `skyward-<pool>`; the key pair is deleted when the scope closes.
 */
export const poolKeyPair = (ec2: EC2Client, poolId: string, tags: Tag[]): Effect.Effect<PoolKeyPair, AwsCallError, Scope.Scope> => {
  const name = `skyward-${poolId}`
  return Effect.acquireRelease(
    Effect.gen(function* () {
      const key = generateEd25519(name)
      const out = yield* Effect.tryPromise({
        try: () =>
          ec2.send(new ImportKeyPairCommand({ KeyName: name, PublicKeyMaterial: Buffer.from(key.publicKey), TagSpecifications: [tagSpec("key-pair", tags)] })),
        catch: toCallError("ImportKeyPair")
      })
      return { name, id: out.KeyPairId, key }
    }),
    () => deleteKeyPair(ec2, name).pipe(warnOnFailure(`key pair ${name}`, poolId))
  )
}

/** Deletes a key pair by name (already gone counts as done). */
export const deleteKeyPair = (ec2: EC2Client, name: string): Effect.Effect<void, AwsCallError> =>
  Effect.tryPromise({ try: () => ec2.send(new DeleteKeyPairCommand({ KeyName: name })), catch: toCallError("DeleteKeyPair") }).pipe(
    Effect.catchIf((e) => e.code === "InvalidKeyPair.NotFound", () => Effect.void),
    Effect.asVoid
  )
