/**
 * @skyward/provider-aws/testing: seams for other packages' tests (not part of the public API;
 * may change in any release).
 * @packageDocumentation
 */

/** Makes an ed25519 key pair in OpenSSH formats, as the provider does for each instance's host key. */
export { generateEd25519 } from "./internal/host-keys.js"
