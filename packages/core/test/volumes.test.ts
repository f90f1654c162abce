import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { ConfigError } from "@skyward/contracts"
import { afterAll, describe, expect, it } from "vitest"
import { ComputePool, type PoolOptionsInput } from "../src/index.js"

const funcs = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "skytest_funcs.py")

describe("volumes on local nodes", () => {
  // beside the per-file TMPDIR the suite checks for leftovers, not in it
  const data = fs.mkdtempSync(path.join(path.dirname(os.tmpdir()), "skyward-volume-test-"))
  fs.writeFileSync(path.join(data, "greeting.txt"), "x".repeat(1 << 20))
  afterAll(() => fs.rmSync(data, { recursive: true, force: true }))
  const options = (extra: Partial<PoolOptionsInput>): PoolOptionsInput => ({
    nodes: 2,
    worker: { concurrency: 1 },
    image: { files: { "skytest_funcs.py": funcs } },
    workdir: false,
    log: false,
    ...extra
  })

  it.each(["process", "thread"] as const)("a folder at /data is read in place by every task (%s executor); none of it crosses", async (executor) => {
    const read = await ComputePool.use(options({ volumes: [{ source: data, path: "/data" }], worker: { concurrency: 1, executor } }), async (pool) => {
      const texts = await pool.map<string>("skytest_funcs:read_text", ["/data/greeting.txt", "/data/greeting.txt"])
      expect(pool.traffic.sentBytes).toBeLessThan(1 << 18)
      return texts
    })
    expect(read.map((t) => t.length)).toEqual([1 << 20, 1 << 20])
  })

  it("refuses, before anything starts: a missing folder, two volumes at one path, an s3:// volume without its access", async () => {
    const refused = async (volumes: PoolOptionsInput["volumes"]) =>
      ComputePool.use(options({ volumes }), async () => "opened").catch((e: unknown) => e)
    const missing = await refused([{ source: path.join(data, "nope"), path: "/data" }])
    expect(missing).toBeInstanceOf(ConfigError)
    expect((missing as ConfigError).message).toBe(`volumes: ${path.join(data, "nope")} (for /data) is not a folder of this machine`)
    expect(((await refused([{ source: data, path: "/data" }, { source: data, path: "/data" }])) as ConfigError).message).toBe("volumes: two volumes at /data")
    expect(((await refused([{ source: "s3://my-bucket/sets", path: "/data" }])) as ConfigError).message).toMatch(/^volumes: s3:\/\/my-bucket\/sets needs volumeAccess/)
    expect(((await refused([{ source: data, path: "data" }])) as ConfigError).message).toMatch(/^volumes\.0\.path: must be an absolute path/)
  })
})
