import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import type { PoolEvent } from "@skyward/contracts"
import { ComputePool } from "@skyward/core"
import { Effect } from "effect"
import { chromium, type Browser, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveDashboard, type Dashboard } from "../src/index.js"

// Debian's chromium (the suite's set-up installs it); SKYWARD_CHROMIUM names another
const CHROMIUM = process.env.SKYWARD_CHROMIUM ?? "/usr/bin/chromium"
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../test-artifacts")
/** Issue 28: the page shows what happened within 2 s. */
const SHOWN_WITHIN_MS = 2_000

const TASKS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "fixtures/dash_tasks.py")

const withDashboard = <A>(body: (pool: Parameters<Parameters<typeof ComputePool.use>[1]>[0], dashboard: Dashboard, agents: Map<number, number>) => Promise<A>) => {
  const agents = new Map<number, number>()
  const listener = (event: PoolEvent) => {
    if (event._tag === "NodeReady") agents.set(event.node, event.pid)
  }
  return ComputePool.use(
    { nodes: 3, worker: { concurrency: 2, executor: "thread" }, image: { files: { "dash_tasks.py": TASKS } } },
    (pool) =>
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const dashboard = yield* serveDashboard({ name: "demo", provider: pool.cluster.provider, nodes: pool.cluster.nodes, slotsPerNode: 2, subscribe: pool.subscribe })
            return yield* Effect.promise(() => body(pool, dashboard, agents))
          })
        )
      ),
    listener
  )
}

const figure = async (page: Page, id: string) => Number((await page.getByTestId(id).textContent())?.split("/")[0])

describe.skipIf(!fs.existsSync(CHROMIUM))("the dashboard of a pool of 3 local nodes, in Chromium", () => {
  let browser: Browser
  // the browser's profile and Playwright's files go to a folder of their own: the pool's TMPDIR is checked left empty
  const browserTmp = fs.mkdtempSync(path.join(path.dirname(os.tmpdir()), "skyward-dashboard-browser-"))
  beforeAll(async () => {
    const tmp = process.env.TMPDIR
    process.env.TMPDIR = browserTmp
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })
    } finally {
      process.env.TMPDIR = tmp
    }
  })
  afterAll(async () => {
    await browser?.close()
    fs.rmSync(browserTmp, { recursive: true, force: true })
  })

  it("answers 403 without the token; shows the nodes, the counts moving, a failure with its traceback, a node lost when its agent is killed", async () => {
    await withDashboard(async (pool, dashboard, agents) => {
      const base = dashboard.url.replace(/\?token=.*/, "")
      expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/)
      for (const url of [base, `${base}?token=wrong`, `${base}events`, `${base}static/app.js`]) expect((await fetch(url)).status, url).toBe(403)

      const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
      try {
        await page.goto(dashboard.url)
        await expect.poll(() => page.getByTestId("pool-name").textContent(), { timeout: SHOWN_WITHIN_MS }).toBe("demo")
        for (const node of [0, 1, 2]) expect(await page.getByTestId(`node-${node}`).getAttribute("data-state")).toBe("ready")

        // 60 tasks of 0.25 s on 6 slots: about 2.5 s; the done count moves while they run
        const work = pool.map<number>("dash_tasks:work", Array.from({ length: 60 }, (_, i) => i))
        await expect.poll(() => figure(page, "done"), { timeout: SHOWN_WITHIN_MS }).toBeGreaterThan(0)
        const early = await figure(page, "done")
        await expect.poll(() => figure(page, "busy"), { timeout: SHOWN_WITHIN_MS }).toBeGreaterThan(0)
        await expect.poll(() => figure(page, "done"), { timeout: SHOWN_WITHIN_MS }).toBeGreaterThan(early)
        expect(await work).toHaveLength(60)
        await expect.poll(() => figure(page, "done"), { timeout: SHOWN_WITHIN_MS }).toBe(60)
        await expect.poll(async () => (await page.locator("[data-testid^=output-]").allTextContents()).join("\n"), { timeout: SHOWN_WITHIN_MS }).toContain("work item 59")

        // a failure, with the remote traceback
        await expect(pool.call("dash_tasks:boom", [1])).rejects.toThrow("boom on purpose")
        await expect.poll(() => page.getByTestId("failure").first().textContent(), { timeout: SHOWN_WITHIN_MS }).toContain("ValueError: boom on purpose")
        expect(await figure(page, "failed")).toBe(1)

        // an agent killed: its node is marked lost
        process.kill(agents.get(2)!, "SIGKILL")
        await expect.poll(() => page.getByTestId("node-2").getAttribute("data-state"), { timeout: SHOWN_WITHIN_MS }).toBe("lost")
        expect(await page.getByTestId("nodes").textContent()).toBe("2/3")

        fs.mkdirSync(ARTIFACTS, { recursive: true })
        await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true })
      } finally {
        await page.close()
      }
    })
  })
})
