/** Where the watchdog script is written on the instance. */
export const WATCHDOG_PATH = "/usr/local/sbin/skyward-watchdog"

/** Where sshd's keepalive settings are written (read before the image's own drop-ins: sshd keeps a keyword's first value). */
export const SSHD_KEEPALIVE_PATH = "/etc/ssh/sshd_config.d/05-skyward-keepalive.conf"

/** What goes into one instance's user-data (nothing secret: EC2 shows it to anyone allowed DescribeInstanceAttribute, and to every process on the instance). */
export interface UserDataInput {
  /** The pool's login key (`ssh-ed25519 AAAA... comment`), for the AMI's user. */
  readonly authorizedKey: string
  /** The AMI's login, whose SSH sessions keep the instance up. */
  readonly loginUser: string
  /** Minutes without an SSH session before the watchdog powers off; 0: no watchdog. */
  readonly ttlMinutes: number
  /** The command the watchdog runs. */
  readonly powerOffCommand: string
}

/**
 * How sshd notices a client that vanished without closing its connection (a laptop that slept, a
 * lost network): it asks every `interval` seconds and ends the session after `countMax` requests
 * without an answer (and gives up sending within as long again). Scaled to the ttl: a twentieth of
 * it, between 2 and 15 s; 15 s without a watchdog.
 */
export const sshdKeepalive = (ttlMinutes: number): { readonly interval: number; readonly countMax: number } => {
  const ttl = Math.round(ttlMinutes * 60)
  return { interval: ttl > 0 ? Math.max(2, Math.min(15, Math.floor(ttl / 20))) : 15, countMax: 4 }
}

const sshdKeepaliveConfig = (ttlMinutes: number): string => {
  const { interval, countMax } = sshdKeepalive(ttlMinutes)
  return [
    "# Skyward: end the sessions of clients that vanished, so that the watchdog sees them gone",
    `ClientAliveInterval ${interval}`,
    `ClientAliveCountMax ${countMax}`,
    ""
  ].join("\n")
}

/** `text` as one single-quoted shell word. */
const shellWord = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/**
 * The watchdog: every few seconds it looks for a live SSH session of the pool's login, that is an
 * established TCP connection on local port 22 whose socket a process of that user holds (sshd's
 * session process, after authentication; a connection that never logs in, or logs in as someone
 * else, does not count). After `ttl` seconds without one it runs the power-off command. With
 * shutdown behaviour `terminate`, EC2 then terminates the instance.
 */
export const watchdogScript = (ttlMinutes: number, powerOffCommand: string, loginUser: string): string => {
  const ttl = Math.max(1, Math.round(ttlMinutes * 60))
  const interval = Math.max(1, Math.min(30, Math.floor(ttl / 10)))
  return [
    "#!/bin/sh",
    "# Skyward watchdog: powers this machine off when no SSH session of the pool's login has been seen for TTL seconds.",
    `ttl=${ttl}`,
    `interval=${interval}`,
    `login=${shellWord(loginUser)}`,
    'last=$(date +%s)',
    "user_sockets() {",
    "  # inodes of the sockets that processes whose real uid is the login's hold open",
    '  uid=$(id -u "$login" 2>/dev/null) || return 0',
    '  for status in $(grep -s -l -E "^Uid:[[:space:]]+$uid[[:space:]]" /proc/[0-9]*/status); do',
    "    find \"${status%/status}/fd\" -maxdepth 1 -lname 'socket:*' -printf '%l\\n' 2>/dev/null",
    "  done | sed -n 's/^socket:\\[\\([0-9]*\\)\\]$/\\1/p'",
    "}",
    "connected() {",
    "  # established (st 01) TCP connections on local port 22 (0016), IPv4 or IPv6, in this network",
    "  # namespace, whose socket (inode, field 10) the login's sshd session holds",
    '  sockets=" $(user_sockets | tr \'\\n\' \' \')"',
    "  # (through cat: mawk stops at a missing file, and tcp6 is missing without IPv6)",
    "  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |",
    "    awk -v sockets=\"$sockets\" '$4 == \"01\" && $2 ~ /:0016$/ && index(sockets, \" \" $10 \" \") { found = 1 } END { exit found ? 0 : 1 }'",
    "}",
    "while :; do",
    '  if connected; then last=$(date +%s); fi',
    '  if [ $(( $(date +%s) - last )) -ge "$ttl" ]; then',
    '    echo "skyward-watchdog: no SSH session of $login for ${ttl}s, powering off" >&2',
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
 * One instance's user-data: a cloud-config (written as JSON, which is YAML). The instance makes
 * its own ed25519 host key (the image's are deleted) and cloud-init prints it on the serial
 * console, where the provider reads it (GetConsoleOutput) to pin it: no private key travels. It
 * authorizes the pool's login key, sets sshd's client keepalive, and installs and starts the
 * watchdog as a systemd service.
 */
export const buildUserData = (input: UserDataInput): string => {
  const watchdog = input.ttlMinutes > 0
  const config = {
    ssh_deletekeys: true,
    ssh_genkeytypes: ["ed25519"],
    ssh: { emit_keys_to_console: true },
    ssh_key_console_blacklist: [] as string[],
    ssh_authorized_keys: [input.authorizedKey],
    write_files: [
      { path: SSHD_KEEPALIVE_PATH, permissions: "0644", owner: "root:root", content: sshdKeepaliveConfig(input.ttlMinutes) },
      ...(watchdog
        ? [
            { path: WATCHDOG_PATH, permissions: "0755", owner: "root:root", content: watchdogScript(input.ttlMinutes, input.powerOffCommand, input.loginUser) },
            { path: "/etc/systemd/system/skyward-watchdog.service", permissions: "0644", owner: "root:root", content: WATCHDOG_UNIT }
          ]
        : [])
    ],
    runcmd: [
      // write_files runs before sshd starts; a reload covers an image whose sshd started earlier
      ["sh", "-c", "systemctl try-reload-or-restart ssh.service sshd.service >/dev/null 2>&1 || true"],
      ...(watchdog ? [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "skyward-watchdog.service"]] : [])
    ]
  }
  return `#cloud-config\n${JSON.stringify(config, null, 2)}\n`
}
