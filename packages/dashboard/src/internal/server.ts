import { randomBytes, timingSafeEqual } from "node:crypto"
import fs from "node:fs"
import type { AddressInfo } from "node:net"
import { createRequire } from "node:module"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { serve, type ServerType } from "@hono/node-server"
import type { NodeInfo, PoolEvent } from "@skyward/contracts"
import { Data, Effect, type Scope } from "effect"
import { Hono, type Context } from "hono"
import { getCookie, setCookie } from "hono/cookie"
import { streamSSE } from "hono/streaming"
import { DashboardModel } from "./state.js"

/** How often the page gets the state, when it changed (and the time-based figures move). */
const PUSH_MS = 500
const COOKIE = "skyward_dashboard"

/** What the dashboard shows and where it listens. */
export interface DashboardOptions {
  /** The pool's name, shown as the page's title. */
  readonly name: string
  readonly provider: string
  /** The open pool's nodes, and the slots of each. */
  readonly nodes: ReadonlyArray<NodeInfo>
  readonly slotsPerNode: number
  /** Bytes sent to the nodes and received from them so far (the pool's `traffic`), read every tick. */
  readonly traffic?: () => { readonly sentBytes: number; readonly receivedBytes: number }
  /** What is known of a node that joins later (an elastic pool's): its machine and price. */
  readonly nodeInfo?: (index: number) => NodeInfo | undefined
  /** Subscribes to the pool's events; returns the unsubscribe (the pool's `subscribe`). */
  readonly subscribe: (listener: (event: PoolEvent) => void) => () => void
  /** Port on 127.0.0.1; default 0: one the system picks. */
  readonly port?: number
  /** The token the URL must carry; default: a fresh random one. */
  readonly token?: string
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's address with its token: `http://127.0.0.1:PORT/?token=...`. */
  readonly url: string
  readonly port: number
  readonly token: string
}

/** The dashboard could not listen (the port is taken, say). */
export class DashboardError extends Data.TaggedError("DashboardError")<{ readonly message: string; readonly cause?: unknown }> {}

const require = createRequire(import.meta.url)
const STATIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../static")

/** The browser modules the page imports, served from this package's own dependencies (no CDN). */
const VENDOR: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  "preact.js": { file: path.join(path.dirname(require.resolve("preact")), "preact.module.js"), type: "text/javascript" },
  "preact-hooks.js": { file: path.join(path.dirname(require.resolve("preact/hooks")), "hooks.module.js"), type: "text/javascript" },
  "htm.js": { file: path.join(path.dirname(require.resolve("htm")), "htm.module.js"), type: "text/javascript" },
  "uplot.js": { file: path.join(path.dirname(require.resolve("uplot")), "uPlot.esm.js"), type: "text/javascript" },
  "uplot.css": { file: path.join(path.dirname(require.resolve("uplot")), "uPlot.min.css"), type: "text/css" }
}
const OWN: Readonly<Record<string, string>> = { "app.js": "text/javascript", "style.css": "text/css" }

const sameToken = (given: string | undefined, token: string): boolean =>
  given !== undefined && given.length === token.length && timingSafeEqual(Buffer.from(given), Buffer.from(token))

const file = (c: Context, filePath: string, type: string) =>
  c.body(fs.readFileSync(filePath), 200, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-store" })

/** The page, its files and its event stream, each answering 403 without the token (in the URL, or the cookie the page's URL sets). */
const makeApp = (model: DashboardModel, token: string) => {
  const app = new Hono()
  app.use("*", async (c, next) => {
    const fromUrl = c.req.query("token")
    if (!sameToken(fromUrl ?? getCookie(c, COOKIE), token)) return c.text("403: this dashboard needs its token: open the URL skyward printed (skyward ls shows it)\n", 403)
    if (fromUrl !== undefined) setCookie(c, COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" })
    c.header("x-content-type-options", "nosniff")
    c.header("referrer-policy", "no-referrer")
    return next()
  })
  app.get("/", (c) => file(c, path.join(STATIC_DIR, "index.html"), "text/html"))
  app.get("/static/:name", (c) => {
    const name = c.req.param("name")
    const own = OWN[name]
    if (own !== undefined) return file(c, path.join(STATIC_DIR, name), own)
    const vendor = VENDOR[name]
    return vendor === undefined ? c.notFound() : file(c, vendor.file, vendor.type)
  })
  app.get("/events", (c) =>
    streamSSE(c, async (stream) => {
      let sent = -1
      let open = true
      stream.onAbort(() => {
        open = false
      })
      while (open) {
        if (model.version !== sent) {
          sent = model.version
          await stream.writeSSE({ event: "state", data: JSON.stringify(model.state) })
        }
        await stream.sleep(PUSH_MS)
      }
    })
  )
  return app
}

const listen = (app: Hono, port: number): Promise<ServerType> =>
  new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" })
    server.once("listening", () => resolve(server))
    server.once("error", reject)
  })

/**
 * Serves a live dashboard of an open pool on 127.0.0.1 for as long as the scope lasts: the page, and a
 * server-sent event stream that pushes the pool's state (folded from its events) when it changed.
 * Every request needs the token; the server closes, its connections too, with the scope.
 */
export const serveDashboard = (options: DashboardOptions): Effect.Effect<Dashboard, DashboardError, Scope.Scope> =>
  Effect.gen(function* () {
    const model = new DashboardModel(options)
    yield* Effect.acquireRelease(
      Effect.sync(() => options.subscribe(model.apply)),
      (unsubscribe) => Effect.sync(unsubscribe)
    )
    yield* Effect.acquireRelease(
      Effect.sync(() => setInterval(() => model.tick(), PUSH_MS)),
      (timer) => Effect.sync(() => clearInterval(timer))
    )
    const token = options.token ?? randomBytes(24).toString("base64url")
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => listen(makeApp(model, token), options.port ?? 0),
        catch: (cause) =>
          new DashboardError({ message: `the dashboard cannot listen on 127.0.0.1:${options.port ?? 0}: ${(cause as Error).message}; choose another --dashboard-port`, cause })
      }),
      (server) =>
        Effect.async<void>((resume) => {
          ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
          server.close(() => resume(Effect.void))
        })
    )
    const port = (server.address() as AddressInfo).port
    return { url: `http://127.0.0.1:${port}/?token=${token}`, port, token }
  })
