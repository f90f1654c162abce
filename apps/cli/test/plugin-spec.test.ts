import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { parsePluginSpec } from "../src/internal/plugin-spec.js"

const parse = (text: string) => Effect.runSync(Effect.either(parsePluginSpec(text)))

describe("--plugin NAME:key=value,...", () => {
  it("splits the name from options at the first : followed by key=; values are JSON when they parse, else strings", () => {
    expect(parse("joblib")).toEqual(Either.right({ name: "joblib", options: undefined }))
    expect(parse("./run-label.mjs:label=nightly,verbose=true")).toEqual(
      Either.right({ name: "./run-label.mjs", options: { label: "nightly", verbose: true } })
    )
    expect(parse('@acme/plugins/probe:n=3,tags=["a","b"],id="007",empty=,note=a,b')).toEqual(
      Either.right({ name: "@acme/plugins/probe", options: { n: 3, tags: ["a", "b"], id: "007", empty: "", note: "a,b" } })
    )
    // a : elsewhere in a path (or a drive letter) is part of the name
    expect(parse("./odd:dir/plugin.mjs:x=1")).toEqual(Either.right({ name: "./odd:dir/plugin.mjs", options: { x: 1 } }))
    expect(parse("C:\\plugins\\p.mjs")).toEqual(Either.right({ name: "C:\\plugins\\p.mjs", options: undefined }))
    // __proto__ is an option like any other, not the object's prototype
    const proto = parse("p:__proto__=1")
    expect(Either.isRight(proto) && Object.keys(proto.right.options ?? {})).toEqual(["__proto__"])
  })

  it("refuses options that are not key=value pairs, a missing name, a key given twice", () => {
    const message = (text: string) => Either.match(parse(text), { onLeft: (e) => e.message, onRight: () => "parsed" })
    const syntax = "the syntax is --plugin NAME:key=value,key=value (such as --plugin ./run-label.mjs:label=nightly,verbose=true)"
    expect(message("joblib:")).toBe(`--plugin "joblib:": options after ":" must be key=value pairs (keys: letters, digits and _); ${syntax}`)
    expect(message("joblib:1x=2")).toBe(`--plugin "joblib:1x=2": options after ":" must be key=value pairs (keys: letters, digits and _); ${syntax}`)
    expect(message(":label=x")).toBe(`--plugin ":label=x": no plugin name before ":"; ${syntax}`)
    expect(message("p:a=1,a=2")).toBe(`--plugin "p:a=1,a=2": option "a" is given twice; ${syntax}`)
  })
})
