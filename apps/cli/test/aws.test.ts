import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startEmulator, TEST_POWER_OFF, type Emulator } from "../../../packages/provider-aws/test/support/emulator.js"
import { foreignStillThere, leftInMoto, live, makeForeignGroup, makeLeftovers, NOTHING } from "../../../packages/provider-aws/test/support/inspect.js"
import { isolateAwsEnvironment, motoUnavailable, startMoto, type Moto } from "../../../packages/provider-aws/test/support/moto.js"
import { motoAmi } from "../../../packages/provider-aws/test/support/pool.js"
import { netnsUnavailable, sshdUnavailable } from "../../../packages/transport-ssh/test/harness/hosts.js"
import { repo, skyward } from "./cli.js"
import { lokyResultLines, numpyPipOptions, resultLines } from "./loky.js"

const noMoto = motoUnavailable()
const noHosts = noMoto ?? sshdUnavailable() ?? netnsUnavailable()

describe.skipIf(noMoto !== undefined)("skyward with EC2 (moto)", () => {
  let moto: Moto
  let ami: string
  const connection = () => ["--endpoint", moto.endpoint, "--region", "us-east-1"]

  beforeAll(async () => {
    // fake credentials, no instance metadata: the CLI (which inherits this environment) only ever reaches moto
    isolateAwsEnvironment()
    moto = await startMoto()
    ami = await motoAmi(moto.ec2)
  })
  afterAll(async () => {
    await moto?.stop()
  })

  it("skyward ls lists leftover Skyward resources by pool; down removes one pool, then --all the rest", async () => {
    const made: Record<string, string[]> = {}
    for (const pool of ["sky-left0001", "sky-left0002"]) made[pool] = await makeLeftovers(moto.ec2, pool, ami)
    // not Skyward's: never listed nor removed
    const foreign = await makeForeignGroup(moto.ec2, "someone-elses")

    const ls = await skyward(["ls", ...connection()])
    expect(ls.code, ls.stderr).toBe(0)
    for (const [pool, ids] of Object.entries(made)) for (const id of ids) expect(ls.stdout).toMatch(new RegExp(`^${pool}\\s+\\S+\\s+${id}\\s`, "m"))
    expect(ls.stdout).toContain("8 resources in 2 pools")
    expect(ls.stdout).not.toContain(foreign)

    const usage = await skyward(["down", ...connection()])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain("give a pool (see skyward ls) or --all")

    const one = await skyward(["down", ...connection(), "sky-left0001"])
    expect(one.code, one.stderr).toBe(0)
    for (const id of made["sky-left0001"]!) expect(one.stdout).toContain(id)
    expect(live(await leftInMoto(moto.ec2, "sky-left0001"))).toEqual(NOTHING)
    expect(live(await leftInMoto(moto.ec2, "sky-left0002")).instances).toHaveLength(2)

    const json = await skyward(["ls", "--json", ...connection()])
    const listed = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { pool: string; kind: string })
    expect(listed.map((r) => r.pool)).toEqual(Array(4).fill("sky-left0002"))

    const all = await skyward(["down", "--all", ...connection()])
    expect(all.code, all.stderr).toBe(0)
    expect(live(await leftInMoto(moto.ec2))).toEqual(NOTHING)
    expect(await foreignStillThere(moto.ec2, foreign)).toBe(true)
    const empty = await skyward(["ls", ...connection()])
    expect(empty.stdout).toContain("no Skyward resources")
  })

  it("says what is missing when there are no credentials", async () => {
    const saved = { ...process.env }
    try {
      delete process.env.AWS_ACCESS_KEY_ID
      delete process.env.AWS_SECRET_ACCESS_KEY
      const result = await skyward(["ls", ...connection()])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/no AWS credentials/)
    } finally {
      process.env = saved
    }
  })

  it("refuses aws flags without --provider aws, ssh flags with it, and bad values, naming the flag", async () => {
    const script = path.join(repo, "examples/joblib_sleep.py")
    const cases: Array<[string[], RegExp]> = [
      [["--region", "us-east-1"], /--region needs --provider aws/],
      [["--provider", "aws", "--identity", script], /--identity needs --provider ssh/],
      [["--provider", "aws", "--ssh-cidr", "everyone"], /--ssh-cidr: "everyone" is not an IPv4 CIDR/]
    ]
    for (const [flags, message] of cases) {
      const result = await skyward(["run", "--quiet", ...flags, script])
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toMatch(message)
    }
  })

  it("--dry-run names the cheapest instance type with --vcpus and --memory, and its price, creating nothing", async () => {
    const script = path.join(repo, "examples/grid_search.py")
    const plan = await skyward(["run", "--dry-run", "--provider", "aws", ...connection(), "--vcpus", "4", "--memory", "8", "--allocation", "on-demand", "--nodes", "3", script])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain("dry run: nothing was created")
    expect(plan.stdout).toContain("machine:  c7g.xlarge (4 vCPUs, 8 GiB), on-demand, us-east-1")
    expect(plan.stdout).toMatch(/price: {4}\$0\.4350\/hour for the pool \(\$0\.1450 per node; on-demand price list of \d{4}-\d\d-\d\d\)/)
    const up = await skyward(["up", "--dry-run", "--json", "--provider", "aws", ...connection(), "--gpu", "T4"])
    expect(JSON.parse(up.stdout)).toMatchObject({ dryRun: true, provider: "aws", nodes: 1, machine: expect.stringContaining("g4dn.xlarge (4 vCPUs, 16 GiB, 1x NVIDIA T4)") })
    const none = await skyward(["run", "--dry-run", "--provider", "aws", ...connection(), "--vcpus", "4000", script])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("no instance type of us-east-1 has 4000 vCPUs")
    expect(live(await leftInMoto(moto.ec2))).toEqual(NOTHING)
  })

  describe.skipIf(noHosts !== undefined)("skyward run --provider aws on emulated instances", () => {
    let emulator: Emulator
    beforeAll(async () => {
      emulator = await startEmulator(moto)
    })
    afterAll(async () => {
      await emulator?.stop()
    })

    // joblib alone on the fresh instances: less to install; grid_search.py against loky over SSH, the way
    // EC2 nodes are reached too, is ssh.test.ts's
    it("a named pool on 2 instances: run --pool gives joblib_sleep.py loky's result, ls shows its types and cost, down leaves nothing in moto", async () => {
      const script = path.join(repo, "examples/joblib_sleep.py")
      const loky = await lokyResultLines(script)
      const state = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-aws-pools-"))
      // from the script's folder: the working directory sent is examples/, not the repository
      const cli = (args: ReadonlyArray<string>) => skyward(args, { cwd: path.dirname(script), env: { ...process.env, XDG_STATE_HOME: state } })
      try {
        const up = await cli([
          "up", "--name", "ec2", "--provider", "aws", ...connection(), "--ami", ami, "--subnet", emulator.subnetId, "--address", "private",
          "--user", emulator.login, "--power-off-command", TEST_POWER_OFF, "--nodes", "2", "--concurrency", "1", "--plugin", "joblib", ...numpyPipOptions
        ])
        expect(up.code, up.stderr.slice(-3000)).toBe(0)
        // moto's spot price history answers $0.00001 per hour for every type
        expect(up.stdout).toContain("pool ec2 is up: 2 nodes, 2 slots (aws, $0.0000/hour); it closes after 30m without use")

        const ours = await cli(["run", "--pool", "ec2", "joblib_sleep.py"])
        expect(ours.code, ours.stderr.slice(-3000)).toBe(0)
        expect(resultLines(ours.stdout)).toEqual(loky)

        const ls = await cli(["ls", ...connection()])
        expect(ls.stdout).toMatch(/^NAME\s+PROVIDER\s+NODES\s+SLOTS\s+BUSY\s+CLIENTS\s+AGE\s+IDLE\s+CLOSES AFTER\s+TYPES\s+\$\/HOUR\s+COST SO FAR$/m)
        expect(ls.stdout).toMatch(/^ec2\s+aws\s+2\s+2\s+0\s+0\s+\S+\s+\S+\s+30m\s+c6i\.large\s+\$0\.0000\s+\$0\.0000$/m)
        const [pool] = (await cli(["ls", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
        expect(pool).toMatchObject({ name: "ec2", instanceTypes: ["c6i.large"], usdPerHour: 0.00002 })
        // the zone's spot price, or the region's lowest when the emulator has none for the subnet's zone
        expect(pool!.priceSource).toMatch(/^spot price in (us-east-1[a-f]|the region) at launch$/)
        // since up began: at most the few minutes this test has run, at $0.00002 an hour
        expect(pool!.costSoFar).toBeGreaterThan(0)
        expect(pool!.costSoFar).toBeLessThan((0.00002 * 10) / 60)
        // the pool's instances, group and key pair are listed by EC2 under the pool's id
        expect(ls.stdout).toMatch(/\d+ resources in 1 pool;/)

        const down = await cli(["down", "ec2"])
        expect(down.code, down.stderr).toBe(0)
        expect(live(await leftInMoto(moto.ec2))).toEqual(NOTHING)
        await emulator.settle()
        expect(emulator.problems).toEqual([])
        expect([...emulator.instances.keys()]).toEqual([])
        expect(emulator.retired.size).toBe(2)
      } finally {
        await cli(["down", "--all"])
        fs.rmSync(state, { recursive: true, force: true })
      }
    })
  })
})
