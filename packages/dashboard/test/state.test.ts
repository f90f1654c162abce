import type { NodeInfo, PoolEvent } from "@skyward/contracts"
import { describe, expect, it } from "vitest"
import { DashboardModel } from "../src/index.js"

const nodes: NodeInfo[] = [0, 1].map((index) => ({
  index,
  address: `10.0.0.${index + 1}`,
  data: { instanceType: "c6i.large", lifecycle: "spot" },
  price: { usdPerHour: 0.03, source: "spot price in us-east-1a at launch" }
}))

describe("the dashboard's state, folded from a pool's events", () => {
  it("counts per node, per client and per joblib call, with rates and ETAs over the last seconds", () => {
    let clock = 0
    const model = new DashboardModel({ name: "demo", provider: "aws", nodes, slotsPerNode: 2 }, () => clock)
    expect(model.state.usdPerHour).toBeCloseTo(0.06)
    expect(model.state.nodes.map((n) => [n.state, n.slots, n.instanceType, n.usdPerHour])).toEqual([
      ["ready", 2, "c6i.large", 0.03],
      ["ready", 2, "c6i.large", 0.03]
    ])
    const apply = (...events: PoolEvent[]) => events.forEach(model.apply)
    // client 1: one joblib call of 8 calls in 4 batches of 2; client 2: 2 tasks without a call
    for (let task = 1; task <= 4; task++) apply({ _tag: "TaskQueued", task, calls: 2, call: 1, callTotal: 8, client: 1 })
    apply({ _tag: "TaskQueued", task: 5, client: 2 }, { _tag: "TaskQueued", task: 6, client: 2 })
    apply({ _tag: "TaskStarted", task: 1, node: 0, slot: 0 }, { _tag: "TaskStarted", task: 5, node: 1, slot: 0 })
    expect([model.state.queued, model.state.running, model.state.nodes[0]!.busy]).toEqual([4, 2, 1])
    clock = 1_000
    apply({ _tag: "TaskDone", task: 1, node: 0, seconds: 1 }, { _tag: "Log", node: 1, stream: "stdout", line: "hello", task: 5 })
    apply({ _tag: "TaskFailed", task: 5, node: 1, error: "ValueError: no", traceback: "Traceback ...\nValueError: no" })
    clock = 2_000
    model.tick()
    expect(model.state.done).toBe(1)
    expect(model.state.failures).toEqual([{ task: 5, node: 1, error: "ValueError: no", traceback: "Traceback ...\nValueError: no", at: 1_000 }])
    expect(model.state.nodes[1]).toMatchObject({ failed: 1, output: ["hello"] })
    const [call] = model.state.calls
    // 2 of 8 calls done in 2 s: 1 call/s, 6 left
    expect(call).toMatchObject({ client: "1", call: 1, done: 2, total: 8, rate: 1, eta: 6 })
    expect(model.state.clients.map((c) => [c.client, c.queued, c.running, c.done, c.failed])).toEqual([
      ["1", 3, 0, 1, 0],
      ["2", 1, 0, 0, 1]
    ])
    expect(model.state.busySeries).toEqual([[2_000, 0]])

    apply({ _tag: "NodeStats", node: 0, cpu: 0.5, memUsed: 1, memTotal: 4 }, { _tag: "NodeLost", node: 1, reason: "its agent exited", inFlight: [] })
    expect(model.state.nodes.map((n) => [n.state, n.cpu, n.lastHeartbeat])).toEqual([
      ["ready", 0.5, 2_000],
      ["lost", undefined, undefined]
    ])
  })

  it("shows an elastic pool's decisions, its added and removed nodes, and what each node cost while it was in the pool", () => {
    let clock = 0
    const added: NodeInfo = { index: 2, address: "10.0.0.3", data: { instanceType: "c6i.xlarge", lifecycle: "on-demand" }, price: { usdPerHour: 0.17, source: "list" } }
    const model = new DashboardModel({ name: "demo", provider: "aws", nodes, slotsPerNode: 2, nodeInfo: (index) => (index === 2 ? added : undefined) }, () => clock)
    const reason = "400 tasks queued, ~40s of work for 4 slots; a node gets ready in ~3.0s"
    clock = 3_600_000 // an hour at $0.06
    model.apply({ _tag: "PoolScaled", direction: "up", nodes: [2], live: 3, reason })
    model.apply({ _tag: "NodeProvisioned", node: 2, address: "10.0.0.3" })
    model.apply({ _tag: "NodeReady", node: 2, slots: 4, pid: 1 })
    expect(model.state.nodes[2]).toMatchObject({ state: "ready", address: "10.0.0.3", slots: 4, instanceType: "c6i.xlarge", usdPerHour: 0.17 })
    expect(model.state.usdPerHour).toBeCloseTo(0.23)
    clock = 5_400_000 // half an hour at $0.23
    model.apply({ _tag: "PoolScaled", direction: "down", nodes: [2], live: 2, reason: "idle for 2m" })
    clock = 9_000_000 // an hour at $0.06
    model.tick()
    expect(model.state.nodes[2]!.state).toBe("removed")
    expect(model.state.usdPerHour).toBeCloseTo(0.06)
    expect(model.state.costSoFar).toBeCloseTo(0.06 + 0.115 + 0.06)
    expect(model.state.scaling.map((d) => [d.direction, d.nodes, d.live, d.reason])).toEqual([
      ["down", [2], 2, "idle for 2m"],
      ["up", [2], 3, reason]
    ])
  })
})
