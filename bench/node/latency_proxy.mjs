// A latency-injecting TCP proxy for the bench's B8 (issue 27: a network path with latency).
// This kernel has no `netem`, so the wire latency of a laptop 20-80 ms from its cloud region is
// made here: one listener on 127.0.0.1 per target (an SSH host's sshd), each byte held RTT/2 on
// its way out and RTT/2 on its way back, in the order it came.
//   node bench/node/latency_proxy.mjs --rtt-ms 10 --to 10.231.0.2:22 --to 10.231.0.6:22 ...
// Prints ONE JSON line on stdout once every listener is up:
//   {"ok":true,"rtt_ms":10,"listeners":[{"port":40123,"target":"10.231.0.2:22"},...]}
// (or {"ok":false,"error":"..."} and exit 1). Then forwards until its stdin closes or it gets
// SIGTERM/SIGINT/SIGHUP: it closes the listeners, destroys every connection, prints
//   {"stopped":true,"connections":N}
// and exits 0. The harness keeps that stdin open, so if the harness dies the proxy goes too.
import net from "node:net"

const args = process.argv.slice(2)
const values = (name) => args.flatMap((a, i) => (a === `--${name}` && i + 1 < args.length ? [args[i + 1]] : []))
const rttMs = Number(values("rtt-ms")[0] ?? 0)
const targets = values("to")
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)

// Bytes held in one direction before the source is paused: far above what SSH keeps in flight
// here, so it never shapes bandwidth, but a runaway sender cannot grow the proxy without bound.
const HIGH_WATER_BYTES = 8 * 1024 * 1024
// Node's timers have 1 ms granularity and may fire a fraction of a ms before the due time:
// deliver what is due within this slack rather than wait another whole timer tick.
const TIMER_SLACK_MS = 0.5

/** Forwards `from` to `to`, each chunk `delayMs` after it arrived, in arrival order; ends `to` after the last. */
const pipeDelayed = (from, to, delayMs) => {
  const queue = [] // { due, chunk }, due ascending: one delay for all, so arrival order is due order
  let held = 0
  let timer = null
  let ended = false
  const overFull = () => held + to.writableLength > HIGH_WATER_BYTES
  const resumeIfRoom = () => {
    if (from.isPaused() && !overFull()) from.resume()
  }
  const deliver = () => {
    timer = null
    const now = performance.now()
    while (queue.length > 0 && queue[0].due <= now + TIMER_SLACK_MS) {
      const { chunk } = queue.shift()
      held -= chunk.length
      if (!to.destroyed) to.write(chunk)
    }
    if (queue.length > 0) timer = setTimeout(deliver, Math.floor(queue[0].due - now))
    else if (ended && !to.destroyed) to.end()
    resumeIfRoom()
  }
  to.on("drain", resumeIfRoom)
  from.on("data", (chunk) => {
    if (delayMs <= 0) {
      to.write(chunk)
    } else {
      queue.push({ due: performance.now() + delayMs, chunk })
      held += chunk.length
      timer ??= setTimeout(deliver, Math.floor(delayMs))
    }
    if (overFull()) from.pause()
  })
  from.on("end", () => {
    ended = true
    if (queue.length === 0 && timer === null && !to.destroyed) to.end()
  })
  return () => {
    if (timer !== null) clearTimeout(timer)
  }
}

const sockets = new Set()
let connections = 0
const track = (socket) => {
  sockets.add(socket)
  socket.on("close", () => sockets.delete(socket))
}

const serve = (target) => {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))]
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    connections += 1
    const upstream = net.connect({ host, port, allowHalfOpen: true, noDelay: true })
    track(client)
    track(upstream)
    const stops = [pipeDelayed(client, upstream, rttMs / 2), pipeDelayed(upstream, client, rttMs / 2)]
    const drop = () => {
      for (const stop of stops) stop()
      client.destroy()
      upstream.destroy()
    }
    client.on("error", drop)
    upstream.on("error", drop)
    // both directions ended (each end already delivered after its delay): nothing left to carry
    client.on("close", () => upstream.writableEnded && upstream.destroy())
    upstream.on("close", () => client.writableEnded && client.destroy())
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve({ server, target, port: server.address().port }))
  })
}

let listeners = []
let stopping = false
const stop = (why) => {
  if (stopping) return
  stopping = true
  process.stderr.write(`latency_proxy: stopping (${why})\n`)
  for (const { server } of listeners) server.close()
  for (const socket of sockets) socket.destroy()
  say({ stopped: true, connections })
  process.exit(0)
}
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => stop(signal))

if (!(rttMs >= 0) || targets.length === 0) {
  say({ ok: false, error: "usage: latency_proxy.mjs --rtt-ms N --to HOST:PORT [--to HOST:PORT ...]" })
  process.exit(1)
}
try {
  listeners = await Promise.all(targets.map(serve))
} catch (error) {
  say({ ok: false, error: String(error?.message ?? error) })
  process.exit(1)
}
say({ ok: true, rtt_ms: rttMs, listeners: listeners.map(({ port, target }) => ({ port, target })) })
process.stdin.on("data", () => {}) // anything written is ignored; only the close matters
process.stdin.on("end", () => stop("stdin closed"))
process.stdin.on("close", () => stop("stdin closed"))
process.stdin.on("error", () => stop("stdin error"))
process.stdin.resume()
