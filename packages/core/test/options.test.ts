import { constants } from "node:buffer"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { ComputePool, ConfigError, validatePoolOptions } from "../src/index.js"

const fieldOf = (input: unknown) => {
  const result = validatePoolOptions(input)
  return Either.isLeft(result) ? result.left.field : undefined
}

describe("pool options", () => {
  it("fill in defaults", () => {
    const result = validatePoolOptions({})
    expect(Either.isRight(result) && result.right).toMatchObject({ nodes: 1, retries: 2, worker: { executor: "process" } })
  })

  it.each([
    [{ nodes: 0 }, "nodes"],
    [{ nodes: 1.5 }, "nodes"],
    [{ worker: { concurrency: -1 } }, "worker.concurrency"],
    [{ worker: { executor: "fork" } }, "worker.executor"],
    [{ image: { pip: ["scikit-learn>=1.5", "numpy==="] } }, "image.pip.1"],
    [{ image: { python: "2.7" } }, "image.python"],
    [{ timeout: 0 }, "timeout"],
    [{ nodse: 2 }, "nodse"],
    [{ plugins: [42] }, "plugins.0"],
    [{ log: 42 }, "log"]
  ])("refuse %j naming %s", (input, field) => {
    expect(fieldOf(input)).toBe(field)
  })

  it("take an elastic node range, and say what is wrong with a bad one", () => {
    const message = (nodes: unknown) => {
      const result = validatePoolOptions({ nodes })
      return Either.isLeft(result) ? result.left.message : result.right.nodes
    }
    expect(message({ min: 1, max: 4 })).toEqual({ min: 1, max: 4 })
    expect(message({ min: 3, max: 1 })).toBe("nodes: min (3) must not be above max (1)")
    expect(message({ min: 0, max: 2 })).toBe("nodes: must be a positive integer, or { min, max } of positive integers")
    expect(message(0)).toBe("nodes: must be a positive integer")
  })

  it("name both executors when the executor is unknown", () => {
    const result = validatePoolOptions({ worker: { executor: "fork" } })
    expect(Either.isLeft(result) && result.left.message).toBe('worker.executor: must be "process" or "thread", got "fork"')
  })

  it("limit the large arguments of a task to 1 GiB unless raised, and never above what one Node buffer holds", () => {
    const result = validatePoolOptions({})
    expect(Either.isRight(result) && result.right.argumentLimit).toBe(1024 ** 3)
    const over = validatePoolOptions({ argumentLimit: constants.MAX_LENGTH + 1 })
    expect(Either.isLeft(over) && over.left.field).toBe("argumentLimit")
    // on Node 20 one buffer holds at most 4 GiB (later Nodes allow far more)
    if (constants.MAX_LENGTH < Number.MAX_SAFE_INTEGER)
      expect(Either.isLeft(over) && over.left.message).toMatch(/^argumentLimit: must be at most [\d.]+ GiB \(the largest buffer Node holds\)$/)
    expect(fieldOf({ argumentLimit: 0 })).toBe("argumentLimit")
  })

  it("are checked before anything starts", async () => {
    const error = await ComputePool.use({ nodes: 0 }, async () => "ran").catch((e) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toContain("nodes")
  })
})
