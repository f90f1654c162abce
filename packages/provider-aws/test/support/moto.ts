/**
 * moto's EC2/SSM server on a free loopback port, started by a test file and stopped after it
 * (also when the process exits on failure). Everything the SDK sends goes there. Its
 * GetConsoleOutput answers with what `writeConsole` wrote for an instance (moto_console.py).
 */
import { spawn, type ChildProcess } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { EC2Client } from "@aws-sdk/client-ec2"
import { SSMClient } from "@aws-sdk/client-ssm"
import { freePort } from "../../../transport-ssh/test/harness/hosts.js"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..")
/** moto_server of the project's virtual environment (made by the README's test command). */
export const MOTO_SERVER = path.join(repo, ".venv/bin/moto_server")
/** moto's server with instances' console output of our own, run with the same environment's Python. */
const MOTO_WITH_CONSOLE = path.join(path.dirname(fileURLToPath(import.meta.url)), "moto_console.py")

/** Why moto cannot run here, or undefined. */
export const motoUnavailable = (): string | undefined =>
  fs.existsSync(MOTO_SERVER) ? undefined : `${MOTO_SERVER} is missing (run the README's test command, which creates .venv from requirements.txt)`

/** Fake credentials, a region, no instance metadata and no ~/.aws files: the SDK cannot reach AWS. */
export const isolateAwsEnvironment = () => {
  const empty = path.join(os.tmpdir(), "skyward-no-aws-config")
  for (const name of ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_DEFAULT_REGION"])
    delete process.env[name]
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: path.join(empty, "config"),
    AWS_SHARED_CREDENTIALS_FILE: path.join(empty, "credentials"),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
  })
}

/** A running moto server. */
export interface Moto {
  readonly endpoint: string
  readonly ec2: EC2Client
  readonly ssm: SSMClient
  /** Sets what GetConsoleOutput answers for an instance (its serial console, as EC2 shows it). */
  readonly writeConsole: (instanceId: string, text: string) => void
  /** Forgets every resource (moto's reset API). */
  readonly reset: () => Promise<void>
  readonly stop: () => Promise<void>
}

const live = new Set<ChildProcess>()
const consoleDirs = new Set<string>()
let hooked = false

/** Starts moto_server on 127.0.0.1 and points the SDK's default endpoint (`AWS_ENDPOINT_URL`) at it. */
export const startMoto = async (): Promise<Moto> => {
  if (!hooked) {
    hooked = true
    process.on("exit", () => {
      for (const child of live) child.kill("SIGKILL")
      for (const dir of consoleDirs) fs.rmSync(dir, { recursive: true, force: true })
    })
  }
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const consoleDir = fs.mkdtempSync(path.join(os.tmpdir(), "sky-moto-console-"))
  consoleDirs.add(consoleDir)
  const python = path.join(path.dirname(MOTO_SERVER), "python")
  const child = spawn(python, [MOTO_WITH_CONSOLE, "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, SKYWARD_MOTO_CONSOLE_DIR: consoleDir }
  })
  live.add(child)
  let log = ""
  child.stderr!.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000)
  })
  const until = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) {
      fs.rmSync(consoleDir, { recursive: true, force: true })
      throw new Error(`moto_server exited with ${child.exitCode}: ${log}`)
    }
    const ok = await fetch(`${endpoint}/moto-api/`).then((r) => r.ok, () => false)
    if (ok) break
    if (Date.now() > until) {
      child.kill("SIGKILL")
      fs.rmSync(consoleDir, { recursive: true, force: true })
      throw new Error(`moto_server did not start on ${endpoint}: ${log}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  process.env.AWS_ENDPOINT_URL = endpoint
  const config = { region: "us-east-1", endpoint }
  const ec2 = new EC2Client(config)
  const ssm = new SSMClient(config)
  return {
    endpoint,
    ec2,
    ssm,
    writeConsole: (instanceId, text) => {
      // written whole, then renamed: moto never reads half a console
      const partial = path.join(consoleDir, `.${instanceId}.part`)
      fs.writeFileSync(partial, text)
      fs.renameSync(partial, path.join(consoleDir, instanceId))
    },
    reset: async () => {
      await fetch(`${endpoint}/moto-api/reset`, { method: "POST" })
    },
    stop: async () => {
      ec2.destroy()
      ssm.destroy()
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r))
        child.kill("SIGTERM")
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))])
        if (child.exitCode === null) child.kill("SIGKILL")
      }
      live.delete(child)
      fs.rmSync(consoleDir, { recursive: true, force: true })
      consoleDirs.delete(consoleDir)
    }
  }
}
