import { ComputePool } from "@skyward/core"
import { ConfigError } from "@skyward/contracts"
import { describe, expect, it } from "vitest"
import { parseHostList, ssh } from "../src/index.js"
import { parseHostSpec } from "../src/internal/hosts.js"
import { resolveHosts } from "../src/internal/provider.js"

describe("host lists", () => {
  it("parses [user@]host[:port], IPv6 in brackets, and comma-separated lists", () => {
    expect(parseHostSpec("10.0.0.5")).toEqual({ host: "10.0.0.5" })
    expect(parseHostSpec("alice@10.0.0.5:2222")).toEqual({ host: "10.0.0.5", port: 2222, user: "alice" })
    expect(parseHostSpec("bob@[fd00::1]:22")).toEqual({ host: "fd00::1", port: 22, user: "bob" })
    expect(parseHostSpec("fd00::2")).toEqual({ host: "fd00::2" })
    expect(parseHostList("a@h1, h2:23 ,")).toEqual([{ host: "h1", user: "a" }, { host: "h2", port: 23 }])
    expect(() => parseHostSpec("h:99999")).toThrow(/expected \[user@\]host\[:port\]/)
  })

  it("applies the provider's defaults to hosts that name none", () => {
    const targets = resolveHosts({ hosts: ["h1", { host: "h2", user: "carol", key: "/k2" }], user: "dave", key: "/k" })
    expect(targets).toEqual([
      { host: "h1", port: 22, user: "dave", key: "/k" },
      { host: "h2", port: 22, user: "carol", key: "/k2" }
    ])
  })

  it("refuses a bad host spec, an unreadable key and too many nodes before connecting", async () => {
    const bad = await ComputePool.use({ provider: ssh({ hosts: ["h:0"] }), nodes: 1 }, async () => undefined).catch((e) => e)
    expect(bad).toBeInstanceOf(ConfigError)
    expect(bad.message).toMatch(/provider\.hosts: invalid host "h:0"/)

    const key = await ComputePool.use({ provider: ssh({ hosts: ["127.0.0.1"], key: "/nonexistent/id_ed25519" }), nodes: 1 }, async () => undefined).catch((e) => e)
    expect(key).toBeInstanceOf(ConfigError)
    expect(key.message).toMatch(/cannot read the private key file \/nonexistent\/id_ed25519/)

    const many = await ComputePool.use({ provider: ssh({ hosts: ["127.0.0.1", "localhost"] }), nodes: 3 }, async () => undefined).catch((e) => e)
    expect(many).toBeInstanceOf(ConfigError)
    expect(many.message).toMatch(/nodes: 3 asked, but the ssh provider has only 2 hosts/)
  })
})
