/** Where the watchdog script is written on the instance. */
export const WATCHDOG_PATH = "/usr/local/sbin/skyward-watchdog"

/** What goes into one instance's user-data. */
export interface UserDataInput {
  /** The instance's host key (OpenSSH private key text) and its public line. */
  readonly hostKey: { readonly privateKey: string; readonly publicKey: string }
  /** The pool's login key (`ssh-ed25519 AAAA... comment`), for the AMI's user. */
  readonly authorizedKey: string
  /** Minutes without an SSH connection before the watchdog powers off; 0: no watchdog. */
  readonly ttlMinutes: number
  /** The command the watchdog runs. */
  readonly powerOffCommand: string
}

/**
 * The watchdog: every few seconds it looks for an established TCP connection on local port 22
 * (the client's SSH connection carries the agent); after `ttl` seconds without one it runs the
 * power-off command. With shutdown behaviour `terminate`, EC2 then terminates the instance.
 */
export const watchdogScript = (ttlMinutes: number, powerOffCommand: string): string => {
  const ttl = Math.max(1, Math.round(ttlMinutes * 60))
  const interval = Math.max(1, Math.min(30, Math.floor(ttl / 10)))
  return [
    "#!/bin/sh",
    "# Skyward watchdog: powers this machine off when no SSH connection has been seen for TTL seconds.",
    `ttl=${ttl}`,
    `interval=${interval}`,
    'last=$(date +%s)',
    "connected() {",
    "  # established (st 01) TCP connections on local port 22 (0016), IPv4 or IPv6, in this network namespace",
    "  awk '$4 == \"01\" && $2 ~ /:0016$/ { found = 1 } END { exit found ? 0 : 1 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null",
    "}",
    "while :; do",
    '  if connected; then last=$(date +%s); fi',
    '  if [ $(( $(date +%s) - last )) -ge "$ttl" ]; then',
    '    echo "skyward-watchdog: no SSH connection for ${ttl}s, powering off" >&2',
    `    ${powerOffCommand}`,
    "    exit 0",
    "  fi",
    '  sleep "$interval"',
    "done",
    ""
  ].join("\n")
}

const WATCHDOG_UNIT = [
  "[Unit]",
  "Description=Skyward watchdog (powers off an abandoned instance)",
  "After=network.target",
  "",
  "[Service]",
  `ExecStart=${WATCHDOG_PATH}`,
  "Restart=on-failure",
  "",
  "[Install]",
  "WantedBy=multi-user.target",
  ""
].join("\n")

/**
 * One instance's user-data: a cloud-config (written as JSON, which is YAML) that installs the
 * instance's host key before sshd starts (`ssh_keys`, no other host keys generated), authorizes
 * the pool's login key, and installs and starts the watchdog as a systemd service.
 */
export const buildUserData = (input: UserDataInput): string => {
  const watchdog = input.ttlMinutes > 0
  const config = {
    ssh_deletekeys: true,
    ssh_genkeytypes: [] as string[],
    ssh_keys: { ed25519_private: input.hostKey.privateKey, ed25519_public: input.hostKey.publicKey },
    ssh_authorized_keys: [input.authorizedKey],
    ...(watchdog
      ? {
          write_files: [
            { path: WATCHDOG_PATH, permissions: "0755", owner: "root:root", content: watchdogScript(input.ttlMinutes, input.powerOffCommand) },
            { path: "/etc/systemd/system/skyward-watchdog.service", permissions: "0644", owner: "root:root", content: WATCHDOG_UNIT }
          ],
          runcmd: [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "skyward-watchdog.service"]]
        }
      : {})
  }
  return `#cloud-config\n${JSON.stringify(config, null, 2)}\n`
}
