import { execFile } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { FrameDecoder, encodeFrame, type Message } from "@skyward/codec"
import { ComputePool, type PromisePool } from "@skyward/core"
import { emptyImage } from "@skyward/contracts"
import { describe, expect, it } from "vitest"
import { joblib } from "../src/index.js"
import { ACTIVATE_MODULE, joblibPythonDir } from "../src/internal/plugin.js"

const run = promisify(execFile)
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const venvPython = path.join(repo, ".venv", "bin", "python")

/** Runs `script` as `skyward run` runs a client: the pool's client env and PYTHONPATH; its stdout. */
const runClient = async (pool: PromisePool, script: string): Promise<string> => {
  const { stdout } = await run(venvPython, ["-c", script], {
    env: { ...process.env, ...pool.client.env, PYTHONPATH: pool.client.pythonPath.join(path.delimiter) },
    timeout: 60_000
  })
  return stdout
}

/** cloudpickle.dumps(functools.partial(operator.mul, 6, 7)) and cloudpickle.dumps(42). */
const SIX_TIMES_SEVEN = Buffer.from(
  "80059540000000000000008c0966756e63746f6f6c73948c077061727469616c9493948c095f6f70657261746f72948c036d756c949394859452942868054b064b0786947d944e7494622e",
  "hex"
)
const FORTY_TWO = Buffer.from("80054b2a2e", "hex")

const roundTrip = (socketPath: string, token: string, payload: Uint8Array) =>
  new Promise<Message[]>((resolve, reject) => {
    const socket = net.connect(socketPath)
    const decoder = new FrameDecoder()
    const messages: Message[] = []
    socket.on("connect", () => {
      socket.write(encodeFrame({ type: "hello", protocol: 1, role: "client", token }))
      socket.write(encodeFrame({ type: "submit", id: 1, kind: "pickle", payload }))
    })
    socket.on("data", (chunk) => {
      for (const message of decoder.push(chunk)) {
        messages.push(message)
        if (message.type === "result" || message.type === "error") {
          socket.end()
          resolve(messages)
        }
      }
    })
    socket.on("error", reject)
    socket.on("close", () => resolve(messages))
  })

describe("the joblib plugin", () => {
  it("adds joblib (pinned if asked) and cloudpickle to the Image, and ships skyward_joblib", () => {
    const spec = { id: "sky-test", provider: "local", nodes: 1, maxNodes: 1, concurrency: 1, executor: "process" as const, volumes: [] }
    expect(joblib().image!(emptyImage, spec).pip).toEqual(["joblib", "cloudpickle"])
    expect(joblib({ version: "1.4.2" }).image!(emptyImage, spec).pip).toEqual(["joblib==1.4.2", "cloudpickle"])
    expect(joblib().name).toBe("joblib")
    expect(joblib().python?.modules).toEqual([{ name: "skyward_joblib", path: joblibPythonDir }])
    expect(fs.existsSync(path.join(joblibPythonDir, "skyward_joblib", "__init__.py"))).toBe(true)
  })

  it("runs a pickled task through the bridge on a real 2 x 2 pool, and an unchanged joblib script", async () => {
    let directory = ""
    await ComputePool.use({ nodes: 2, worker: { concurrency: 2 }, plugins: [joblib()] }, async (pool) => {
      expect(pool.totalSlots).toBe(4)
      const { SKYWARD_BRIDGE: socketPath, SKYWARD_TOKEN: token } = pool.client.env
      expect(socketPath).toBeDefined()
      expect(token).toMatch(/^[0-9a-f]{64}$/)
      directory = path.dirname(socketPath!)
      expect(fs.statSync(directory).mode & 0o777).toBe(0o700)
      expect(pool.client.pythonPath).toContain(joblibPythonDir)
      expect(pool.client.imports).toEqual([ACTIVATE_MODULE])

      const messages = await roundTrip(socketPath!, token!, SIX_TIMES_SEVEN)
      expect(messages[0]).toMatchObject({ type: "hello", role: "server", slots: 4 })
      const result = messages.find((m) => m.type === "result")
      expect(result).toBeDefined()
      expect(Buffer.from((result as { payload: Uint8Array }).payload).equals(FORTY_TWO)).toBe(true)

      // what `skyward run` does: import the activation module, then run the user's code unchanged
      if (fs.existsSync(venvPython)) {
        const script = [
          `import ${ACTIVATE_MODULE}, os`,
          "from joblib import Parallel, delayed, effective_n_jobs",
          "print(effective_n_jobs(-1))",
          "print(sorted(set(Parallel(n_jobs=-1, batch_size=1)(delayed(os.getenv)('SKYWARD_NODE_INDEX') for _ in range(16)))))"
        ].join("\n")
        const stdout = await runClient(pool, script)
        expect(stdout.trim().split("\n")).toEqual(["4", "['0', '1']"])
      }
    })
    expect(directory).not.toBe("")
    expect(fs.existsSync(directory)).toBe(false)
  })

  it.runIf(fs.existsSync(venvPython))("sends a large argument to each node once for the pool's lifetime, again once it changed", async () => {
    await ComputePool.use({ nodes: 2, worker: { concurrency: 1 }, plugins: [joblib()] }, async (pool) => {
      const sent: Array<{ node: number; hash: string; bytes: number }> = []
      pool.subscribe((event) => {
        if (event._tag === "BlobSent") sent.push(event)
      })
      const script = [
        `import ${ACTIVATE_MODULE}, pickle`,
        "from joblib import Parallel, delayed",
        "data = bytearray(range(256)) * 8192  # 2 MiB: out of band, as a numpy array would be",
        "def tail(buf, i): return (type(buf).__name__, bytes(buf[-2:]), buf.readonly)",
        "call = lambda n: Parallel(n_jobs=-1, batch_size=1)(delayed(tail)(pickle.PickleBuffer(data), i) for i in range(n))",
        "first, second = call(8), call(8)",
        "data[-1] = 0  # changed in place between calls: content, not identity, decides",
        "print(first == second, first[0], call(2)[0])"
      ].join("\n")
      const stdout = await runClient(pool, script)
      expect(stdout.trim()).toBe("True ('memoryview', b'\\xfe\\xff', True) ('memoryview', b'\\xfe\\x00', True)")
      const [original, changed] = [...new Set(sent.map((s) => s.hash))]
      expect(sent.filter((s) => s.hash === original).map((s) => s.node).sort()).toEqual([0, 1])
      expect(sent.filter((s) => s.hash === changed).length).toBeGreaterThanOrEqual(1)
      expect(sent.every((s) => s.bytes === 2 * 1024 * 1024)).toBe(true)
    })
  })

  it("starts one bridge per pool even when listed twice", async () => {
    await ComputePool.use({ nodes: 1, worker: { concurrency: 1 }, plugins: [joblib(), joblib()] }, async (pool) => {
      // the second plugin found the first one's bridge and contributed nothing
      expect(pool.client.imports).toEqual([ACTIVATE_MODULE])
      expect(pool.client.pythonPath).toHaveLength(2)
      expect(fs.existsSync(pool.client.env.SKYWARD_BRIDGE!)).toBe(true)
    })
  })
})
