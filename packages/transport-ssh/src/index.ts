/**
 * @skyward/transport-ssh: Skyward Transport over SSH (ssh2): agent channels, uploads, keepalive and host-key pinning.
 * @packageDocumentation
 */
export {}
