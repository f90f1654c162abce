// What a host keeps of the user's project is the login's alone: the work folder, and the content
// store its files come from, are 0700 whatever the login's umask (issue 24, item 15).
import fs from "node:fs"
import path from "node:path"
import { snapshotWorkdir } from "@skyward/core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createHosts, leftovers, netnsUnavailable, sshdUnavailable, type TestHosts } from "./harness/hosts.js"
import { forgetSnapshot, nodeOn, planOf, testTransport } from "./harness/sessions.js"

const unavailable = sshdUnavailable() ?? netnsUnavailable()
if (unavailable) console.warn(`skipping the remote folder modes test: ${unavailable}`)

const modeOf = (file: string) => `0${(fs.statSync(file).mode & 0o777).toString(8)}`

describe.skipIf(unavailable !== undefined)("the remote work folder (a namespace host, the login's umask 022)", () => {
  let hosts: TestHosts
  let project: string

  beforeAll(async () => {
    hosts = await createHosts(1, "netns")
    project = fs.mkdtempSync(path.join(hosts.dir, "project-"))
    fs.mkdirSync(path.join(project, "pkg"))
    fs.writeFileSync(path.join(project, "main.py"), "print('main')\n")
    fs.writeFileSync(path.join(project, "pkg", "data.csv"), "a,b\n1,2\n")
  })
  afterAll(async () => {
    if (project) forgetSnapshot(project)
    if (!hosts) return
    await hosts.teardown()
    expect(leftovers(hosts)).toEqual([])
  })

  it("is made 0700, as is the store of sent files, like the local one", async () => {
    const workdir = await Effect.runPromise(snapshotWorkdir(project))
    const root = path.join(hosts.hosts[0]!.home, ".cache/skyward")
    const seen = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* testTransport().connect(nodeOn(hosts, 0))
          const boot = yield* session.bootstrap(planOf({}, { workdir }), () => undefined)
          return {
            root: modeOf(root),
            work: modeOf(boot.workDir),
            works: modeOf(path.dirname(boot.workDir)),
            store: modeOf(path.join(root, "files")),
            subfolder: modeOf(path.join(boot.workDir, "pkg"))
          }
        })
      )
    )
    expect(seen).toEqual({ root: "0700", work: "0700", works: "0700", store: "0700", subfolder: "0755" })
  })
})
