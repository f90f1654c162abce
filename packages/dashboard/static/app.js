// The dashboard page: folds nothing itself; it renders the state the server pushes (server-sent events).
import { h, render } from "preact"
import { useEffect, useRef, useState } from "preact/hooks"
import htm from "htm"
import uPlot from "uplot"

const html = htm.bind(h)

/** A heartbeat older than this marks the node's figures stale. */
const STALE_HEARTBEAT_MS = 5000

const usd = (value) => `$${value.toFixed(value >= 100 ? 0 : value >= 1 ? 2 : 4)}`
const bytes = (n) => (n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`)
const gib = (bytes) => `${(bytes / 2 ** 30).toFixed(1)} GiB`
const seconds = (s) => (s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`)

const DECISION_VERBS = { up: "added", down: "removed", replace: "added for lost ones:" }
const decisionText = (d) => `${DECISION_VERBS[d.direction]} node${d.nodes.length === 1 ? "" : "s"} ${d.nodes.join(", ")}`

const Figure = ({ label, value, id }) => html`<div class="figure"><b data-testid=${id}>${value}</b><span>${label}</span></div>`

const Slots = ({ busy, slots }) =>
  html`<span class="slots" title=${`${busy} busy, ${Math.max(0, slots - busy)} free`}>
    <span class="slot-busy">${"■".repeat(Math.min(busy, slots))}</span><span class="slot-free">${"□".repeat(Math.max(0, slots - busy))}</span>
  </span>`

const NodeRow = ({ node, now }) => {
  const age = node.lastHeartbeat === undefined ? undefined : (now - node.lastHeartbeat) / 1000
  return html`<tr data-testid=${`node-${node.index}`} data-state=${node.state}>
    <td>${node.index}</td>
    <td class=${`state state-${node.state}`} title=${node.lostReason ?? ""}>${node.state}</td>
    <td>${node.address}</td>
    <td><${Slots} busy=${node.busy} slots=${node.slots} /> ${node.busy}/${node.slots}</td>
    <td>${node.cpu === undefined ? "-" : `${Math.round(node.cpu * 100)}%`}</td>
    <td>${node.memUsed === undefined || node.memTotal === undefined ? "-" : `${gib(node.memUsed)} / ${gib(node.memTotal)}`}</td>
    <td data-testid=${`node-${node.index}-done`}>${node.done}</td>
    <td data-testid=${`node-${node.index}-failed`}>${node.failed}</td>
    <td class=${age !== undefined && age * 1000 > STALE_HEARTBEAT_MS && node.state !== "lost" ? "stale" : ""}>${age === undefined ? "-" : `${age.toFixed(1)} s ago`}</td>
    <td>${[node.instanceType, node.lifecycle, node.usdPerHour === undefined ? undefined : `${usd(node.usdPerHour)}/h`].filter(Boolean).join(" · ") || "-"}</td>
  </tr>`
}

const BusyChart = ({ series, slots }) => {
  const box = useRef(null)
  const plot = useRef(null)
  useEffect(() => {
    const data = [series.map(([t]) => t / 1000), series.map(([, busy]) => busy)]
    if (plot.current === null) {
      plot.current = new uPlot(
        {
          width: Math.min(1160, box.current.clientWidth || 900),
          height: 160,
          scales: { y: { range: [0, Math.max(1, slots)] } },
          series: [{}, { label: "busy slots", stroke: "#2b6cb0", fill: "rgba(43,108,176,0.15)" }],
          axes: [{}, { label: "busy slots" }]
        },
        data,
        box.current
      )
    } else plot.current.setData(data)
  }, [series, slots])
  return html`<div id="busy-chart" ref=${box}></div>`
}

const App = () => {
  const [state, setState] = useState(undefined)
  const [connected, setConnected] = useState(false)
  useEffect(() => {
    const source = new EventSource("/events")
    source.addEventListener("state", (message) => {
      setState(JSON.parse(message.data))
      setConnected(true)
    })
    source.onerror = () => setConnected(false)
    return () => source.close()
  }, [])
  if (state === undefined) return html`<p class="muted">connecting to the pool…</p>`
  const inPool = state.nodes.filter((n) => n.state === "ready" || n.state === "starting")
  const slots = inPool.reduce((sum, n) => sum + n.slots, 0)
  const busy = inPool.reduce((sum, n) => sum + n.busy, 0)
  return html`
    <h1>Pool <span data-testid="pool-name">${state.name}</span> <span class="muted">(${state.provider})</span></h1>
    <div class="muted" data-testid="connection">${connected ? "live" : "reconnecting…"}</div>
    <div class="figures">
      <${Figure} id="nodes" label="nodes up" value=${`${state.nodes.filter((n) => n.state === "ready").length}/${state.nodes.filter((n) => n.state !== "removed").length}`} />
      <${Figure} id="busy" label="busy slots" value=${`${busy}/${slots}`} />
      <${Figure} id="queued" label="queued" value=${state.queued} />
      <${Figure} id="done" label="tasks done" value=${state.done} />
      <${Figure} id="failed" label="tasks failed" value=${state.failed} />
      <${Figure} id="rate" label="tasks/s" value=${state.rate.toFixed(1)} />
      ${state.traffic === undefined ? null : html`<${Figure} id="sent" label="sent to nodes" value=${bytes(state.traffic.sentBytes)} />`}
      ${state.usdPerHour === undefined ? null : html`<${Figure} id="price" label="per hour" value=${usd(state.usdPerHour)} /><${Figure} id="cost" label="cost so far" value=${usd(state.costSoFar)} />`}
    </div>
    ${state.clients.length === 0
      ? null
      : html`<h2>Clients</h2>
          <table data-testid="clients"><thead><tr><th>client</th><th>queued</th><th>running</th><th>done</th><th>failed</th><th>tasks/s</th><th>ETA</th></tr></thead>
            <tbody>${state.clients.map((c) => html`<tr><td>${c.client}</td><td>${c.queued}</td><td>${c.running}</td><td>${c.done}</td><td>${c.failed}</td><td>${c.rate.toFixed(1)}</td><td>${c.eta === undefined ? "-" : seconds(c.eta)}</td></tr>`)}</tbody>
          </table>`}
    ${state.calls.length === 0
      ? null
      : html`<h2>Parallel calls</h2>
          <table data-testid="calls"><thead><tr><th>client</th><th>call</th><th>done</th><th>failed</th><th>calls/s</th><th>ETA</th></tr></thead>
            <tbody>${state.calls.map((c) => html`<tr><td>${c.client}</td><td>${c.call}</td><td>${c.done}${c.total === undefined ? "" : ` / ${c.total}`}</td><td>${c.failed}</td><td>${c.rate.toFixed(1)}</td><td>${c.eta === undefined ? "-" : seconds(c.eta)}</td></tr>`)}</tbody>
          </table>`}
    ${state.scaling.length === 0
      ? null
      : html`<h2>Scaling</h2>
          <table data-testid="scaling"><thead><tr><th>when</th><th>decision</th><th>nodes after</th><th>why</th></tr></thead>
            <tbody>${state.scaling.map((d) => html`<tr data-testid="scaling-decision" data-direction=${d.direction}><td>${seconds((state.now - d.at) / 1000)} ago</td><td>${decisionText(d)}</td><td>${d.live}</td><td>${d.reason}</td></tr>`)}</tbody>
          </table>`}
    <h2>Busy slots</h2>
    <${BusyChart} series=${state.busySeries} slots=${slots} />
    <h2>Nodes</h2>
    <table data-testid="nodes-table">
      <thead><tr><th>#</th><th>state</th><th>address</th><th>slots</th><th>CPU</th><th>memory</th><th>done</th><th>failed</th><th>heartbeat</th><th>machine</th></tr></thead>
      <tbody>${state.nodes.map((node) => html`<${NodeRow} key=${node.index} node=${node} now=${state.now} />`)}</tbody>
    </table>
    <h2>Last failures</h2>
    <div data-testid="failures">
      ${state.failures.length === 0
        ? html`<p class="muted">none</p>`
        : state.failures.map((f) => html`<div class="failure" data-testid="failure"><b>task ${f.task}${f.node === undefined ? "" : ` on node ${f.node}`}</b><div>${f.error}</div>${f.traceback ? html`<pre>${f.traceback}</pre>` : null}</div>`)}
    </div>
    <h2>Task output, by node</h2>
    ${state.nodes.map(
      (node) => html`<details data-testid=${`output-${node.index}`} open=${node.output.length > 0}>
        <summary>node ${node.index} <span class="muted">(last ${node.output.length} lines)</span></summary>
        <pre>${node.output.join("\n")}</pre>
      </details>`
    )}
  `
}

render(html`<${App} />`, document.getElementById("app"))
