#!/usr/bin/env node
// Writes the message and error tables of both languages, and the tables of PROTOCOL.md, from
// schema/messages.json (the one source of the wire's vocabulary).
//   node scripts/gen-messages.mjs           write the files
//   node scripts/gen-messages.mjs --check   write nothing; list the files that differ, exit 1 if any
import { readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const COMMAND = "npx -y pnpm@10 --filter @skyward/codec gen:messages"
const HEADER = `Generated from schema/messages.json by scripts/gen-messages.mjs: do not edit. Run \`${COMMAND}\`.`

// -- reading the schema ------------------------------------------------------------------------

/** `{ enums: Map<name, { doc, values }>, messages, errorKinds }`, with the ErrorKind enum made from errorKinds. */
const readSchema = () => {
  const schema = JSON.parse(readFileSync(join(root, "schema", "messages.json"), "utf8"))
  const enums = new Map(Object.entries(schema.enums))
  enums.set("ErrorKind", { doc: "The `kind` of an `error` message.", values: schema.errorKinds.map((e) => e.kind) })
  for (const message of schema.messages)
    for (const field of message.fields) {
      const name = enumName(field.kind)
      if (name !== undefined && !enums.has(name)) throw new Error(`${message.type}.${field.name}: no enum ${name}`)
    }
  for (const error of schema.errorKinds) {
    const placeholders = [...(error.text ?? "").matchAll(/\{(\w+)\}/g)].map((m) => m[1])
    const params = Object.keys(error.params ?? {})
    if (placeholders.join() !== params.join()) throw new Error(`error kind ${error.kind}: placeholders ${placeholders} but params ${params}`)
    for (const [param, type] of Object.entries(error.params ?? {}))
      if (!["text", "int", "number"].includes(type)) throw new Error(`error kind ${error.kind}: param ${param} of unknown type ${type}`)
  }
  return { enums, messages: schema.messages, errorKinds: schema.errorKinds }
}

const enumName = (kind) => (typeof kind === "object" ? kind.enum : undefined)

/** Names of the fields of kind `kind`, over all messages (no duplicates). */
const fieldsOfKind = (schema, kind) => [...new Set(schema.messages.flatMap((m) => m.fields.filter((f) => f.kind === kind).map((f) => f.name)))]

const sentence = (text) => (/[.!?]$/.test(text) ? text : `${text}.`)
/** `text` as a sentence of its own: capitalised, with a full stop. */
const ownSentence = (text) => sentence(text[0].toUpperCase() + text.slice(1))
const upperSnake = (name) => name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase()
const str = (value) => JSON.stringify(value)

/** A text template as alternating literal and placeholder parts: `[["lit", "a "], ["param", "x"], ...]`. */
const templateParts = (text) =>
  text.split(/(\{\w+\})/).filter((part) => part !== "").map((part) => (/^\{\w+\}$/.test(part) ? ["param", part.slice(1, -1)] : ["lit", part]))

// -- TypeScript ----------------------------------------------------------------------------------

const TS_TYPES = {
  uint: "number",
  float: "number",
  text: "string",
  bytes: "Uint8Array",
  array: "readonly unknown[]",
  any: "unknown",
  textArray: "readonly string[]",
  bytesArray: "readonly Uint8Array[]"
}

const tsType = (kind) => enumName(kind) ?? TS_TYPES[kind] ?? fail(`unknown field kind ${str(kind)}`)
const tsDoc = (text, indent = "") => `${indent}/** ${sentence(text)} */\n`
const tsValues = (name) => `${upperSnake(name)}_VALUES`

const fail = (reason) => {
  throw new Error(reason)
}

const tsMessages = (schema) => {
  let out = `// ${HEADER}\n// The message types of PROTOCOL.md and the field table the validator is driven by.\n\n`
  for (const [name, { doc, values }] of schema.enums) out += tsDoc(doc) + `export type ${name} = ${values.map(str).join(" | ")}\n\n`
  for (const message of schema.messages) {
    out += tsDoc(`\`${message.type}\` (${message.direction}): ${message.doc}`)
    out += `export interface ${message.name} {\n  readonly type: ${str(message.type)}\n`
    for (const field of message.fields) {
      if (field.doc) out += tsDoc(ownSentence(field.doc), "  ")
      out += `  readonly ${field.name}${field.required ? "" : "?"}: ${tsType(field.kind)}\n`
    }
    out += "}\n\n"
  }
  out += `/** Every message of the protocol, discriminated on \`type\`. */
export type Message = ${schema.messages.map((m) => m.name).join(" | ")}

/** The \`type\` of a message. */
export type MessageType = Message["type"]

/** How a field is checked (and, for \`bytes\`/\`bytesArray\`, compressed): a kind, or the text values it may take. */
export type FieldKind = ${Object.keys(TS_TYPES).map(str).join(" | ")} | readonly string[]

/** One field of a message: name, kind, required. */
export type FieldSpec = readonly [name: string, kind: FieldKind, required: boolean]

`
  for (const [name, { values }] of schema.enums) out += `/** The values of {@link ${name}}. */\nexport const ${tsValues(name)}: readonly ${name}[] = [${values.map(str).join(", ")}]\n\n`
  out += `/** The fields of each message type, in the order they are checked (the PROTOCOL.md table). */
export const MESSAGE_FIELDS: { readonly [T in MessageType]: readonly FieldSpec[] } = {
${schema.messages
  .map((m) => {
    const rows = m.fields.map((f) => `    [${str(f.name)}, ${enumName(f.kind) ? tsValues(enumName(f.kind)) : str(f.kind)}, ${f.required === true}]`)
    return `  ${m.type}: [\n${rows.join(",\n")}\n  ]`
  })
  .join(",\n")}
}

/** Top-level fields holding a byte string (compressed above the threshold). */
export const BYTES_FIELDS: ReadonlySet<string> = new Set([${fieldsOfKind(schema, "bytes").map(str).join(", ")}])

/** Top-level fields holding an array of byte strings (each compressed above the threshold). */
export const BYTES_ARRAY_FIELDS: ReadonlySet<string> = new Set([${fieldsOfKind(schema, "bytesArray").map(str).join(", ")}])
`
  return out
}

const tsTemplate = (error) =>
  "`" +
  templateParts(error.text)
    .map(([part, value]) => {
      if (part === "lit") return value.replace(/[\\`]/g, (c) => `\\${c}`).replace(/\$\{/g, "\\${")
      return error.params[value] === "text" ? `\${${value}}` : `\${formatNumber(${value})}`
    })
    .join("") +
  "`"

const tsErrorTexts = (schema) => {
  const withExcType = schema.errorKinds.filter((e) => e.excType)
  const withText = schema.errorKinds.filter((e) => e.text)
  return `// ${HEADER}
// The wording of every error whose kind fixes it, for Node and (in _error_texts.py) for Python.

import type { ErrorMessage } from "./messages.js"

/** An \`error\` message without its \`type\` and \`id\`: what a task failed with, wherever it is forwarded. */
export type ErrorFrame = Omit<ErrorMessage, "type" | "id">

// the shortest decimal that reads back as the same number: what Python's _number writes too
const formatNumber = (n: number): string => String(n)

/** The \`excType\` of the error kinds that fix it (the others carry their exception's). */
export const errorExcTypes = {
${withExcType.map((e) => `  ${e.kind}: ${str(e.excType)}`).join(",\n")}
} as const

/** The message of each error kind that has a fixed wording, its placeholders as parameters. */
export const errorTexts = {
${withText
  .map((e) => `  /** ${sentence(e.doc)} */\n  ${e.kind}: (${Object.entries(e.params).map(([p, t]) => `${p}: ${t === "text" ? "string" : "number"}`).join(", ")}): string => ${tsTemplate(e)}`)
  .join(",\n")}
} as const
`
}

// -- Python ------------------------------------------------------------------------------------

const PY_TYPES = {
  uint: "int",
  float: "float",
  text: "str",
  bytes: "bytes",
  array: "list[Any]",
  any: "Any",
  textArray: "list[str]",
  bytesArray: "list[bytes]"
}

const PY_PARAM_TYPES = { text: "str", int: "int", number: "float" }

/** `text` cut into lines of at most `width` characters (words are not split). */
const wrap = (text, width) => {
  const lines = []
  let line = ""
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === "" ? word : `${line} ${word}`
  }
  return [...lines, line]
}

/** A Python docstring at `indent`, wrapped to 100 columns. */
const pyDocstring = (text, indent) => {
  const lines = wrap(text, 94 - indent.length)
  return lines.length === 1 ? `${indent}"""${lines[0]}"""\n` : `${indent}"""${lines.join(`\n${indent}`)}\n${indent}"""\n`
}

const pyType = (kind) => enumName(kind) ?? PY_TYPES[kind] ?? fail(`unknown field kind ${str(kind)}`)
const pyTuple = (values) => `(${values.map(str).join(", ")}${values.length === 1 ? "," : ""})`

const pyMessages = (schema) => {
  let out = `"""The message types and the field table of every message type (PROTOCOL.md).

${wrap(HEADER, 96).join("\n")}
A message is a plain dict; each type has a TypedDict (\`\`Hello\`\`, \`\`Submit\`\`, ...) for type checkers.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypedDict, Union

`
  for (const [name, { doc, values }] of schema.enums) out += `${name} = Literal[${values.map(str).join(", ")}]\n"""${sentence(doc)}"""\n\n`
  for (const message of schema.messages) {
    const required = message.fields.filter((f) => f.required)
    const optional = message.fields.filter((f) => !f.required)
    const fieldLines = (fields) =>
      fields.map((f) => `${f.doc ? wrap(ownSentence(f.doc), 90).map((l) => `    #: ${l}\n`).join("") : ""}    ${f.name}: ${pyType(f.kind)}\n`).join("")
    out += `\nclass _${message.name}Required(TypedDict):\n    type: Literal[${str(message.type)}]\n${fieldLines(required)}\n\n`
    out += `class ${message.name}(_${message.name}Required, total=False):\n${pyDocstring(`\`\`${message.type}\`\` (${message.direction}): ${message.doc}`, "    ")}\n`
    out += optional.length > 0 ? fieldLines(optional) : ""
    out += "\n"
  }
  out += `
Message = Union[${schema.messages.map((m) => m.name).join(", ")}]
"""Every message of the protocol, told apart by \`\`type\`\`."""

MessageType = Literal[${schema.messages.map((m) => str(m.type)).join(", ")}]
"""The \`\`type\`\` of a message."""

__all__ = [
${[...[...schema.enums].map(([name]) => name), ...schema.messages.map((m) => m.name), "Message", "MessageType"].map((name) => `    ${str(name)},`).join("\n")}
]
"""The message types, and the literal types of their fields: what \`\`skyward_wire\`\` hands on."""

# A field kind: ${Object.keys(PY_TYPES).map(str).join(", ")},
# or a tuple of the allowed text values.
FieldKind = Union[str, tuple[str, ...]]
FieldSpec = tuple[str, FieldKind, bool]  # name, kind, required

`
  for (const [name, { values }] of schema.enums) out += `${upperSnake(name)}_VALUES: Final[tuple[${name}, ...]] = ${pyTuple(values)}\n`
  out += `
MESSAGE_FIELDS: Final[dict[str, tuple[FieldSpec, ...]]] = {
${schema.messages
  .map((m) => {
    const rows = m.fields.map((f) => `        (${str(f.name)}, ${enumName(f.kind) ? `${upperSnake(enumName(f.kind))}_VALUES` : str(f.kind)}, ${f.required ? "True" : "False"}),`)
    return `    ${str(m.type)}: (\n${rows.join("\n")}\n    ),`
  })
  .join("\n")}
}
"""The fields of each message type, in the order they are checked."""

BYTES_FIELDS: Final = frozenset({${fieldsOfKind(schema, "bytes").map(str).join(", ")}})
"""Top-level fields holding a byte string (compressed above the threshold)."""

BYTES_ARRAY_FIELDS: Final = frozenset({${fieldsOfKind(schema, "bytesArray").map(str).join(", ")}})
"""Top-level fields holding an array of byte strings (each compressed above the threshold)."""
`
  return out
}

const pyTemplate = (error) =>
  'f"' +
  templateParts(error.text)
    .map(([part, value]) => {
      if (part === "lit") return JSON.stringify(value).slice(1, -1).replace(/\{/g, "{{").replace(/\}/g, "}}")
      return { text: `{${value}}`, int: `{${value}}`, number: `{_number(${value})}` }[error.params[value]]
    })
    .join("") +
  '"'

const pyErrorTexts = (schema) => {
  const withExcType = schema.errorKinds.filter((e) => e.excType)
  const withText = schema.errorKinds.filter((e) => e.text)
  let out = `"""The wording of every error whose kind fixes it (the same as @skyward/codec's errorTexts).

${wrap(HEADER, 96).join("\n")}
"""

from __future__ import annotations

from typing import Final

`
  for (const e of withExcType) out += `${upperSnake(e.kind)}_EXC_TYPE: Final = ${str(e.excType)}\n"""The \`\`excType\`\` of an error of kind \`\`${e.kind}\`\`."""\n\n`
  out += `
def _number(value: float) -> str:
    """The shortest decimal that reads back as the same number, as JavaScript's \`\`String(n)\`\`."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)
`
  for (const e of withText) {
    const params = Object.entries(e.params).map(([p, t]) => `${p}: ${PY_PARAM_TYPES[t]}`)
    out += `\n\ndef ${e.kind}_text(${params.join(", ")}) -> str:\n${pyDocstring(sentence(e.doc), "    ")}    return ${pyTemplate(e)}\n`
  }
  return out
}

// -- PROTOCOL.md -------------------------------------------------------------------------------

const mdKind = (schema, kind) => {
  const name = enumName(kind)
  if (name !== undefined) return schema.enums.get(name).values.map(str).join(" \\| ")
  return { textArray: "array of text", bytesArray: "array of bytes" }[kind] ?? kind
}

const mdField = (schema, field) => `\`${field.name}: ${mdKind(schema, field.kind)}\`${field.doc ? ` (${field.doc.replace(/\|/g, "\\|")})` : ""}`

const mdMessages = (schema) =>
  "| type | direction | required fields | optional fields |\n|---|---|---|---|\n" +
  schema.messages
    .map((m) => {
      const cells = [true, false].map((required) => m.fields.filter((f) => (f.required === true) === required).map((f) => mdField(schema, f)).join(", "))
      return `| \`${m.type}\` | ${m.direction} | ${cells[0]} | ${cells[1]} |`
    })
    .join("\n") +
  "\n"

const mdErrors = (schema) =>
  "| kind | means | made by | `excType` | `message` |\n|---|---|---|---|---|\n" +
  schema.errorKinds
    .map((e) => `| \`${e.kind}\` | ${e.doc} | ${e.madeBy} | ${e.excType ? `\`${e.excType}\`` : "the exception's type"} | ${e.text ? `\`${e.text}\`` : "the sender's own"} |`)
    .join("\n") +
  "\n"

/** PROTOCOL.md with the text between each pair of markers replaced. */
const protocolMd = (schema, current) => {
  let out = current
  for (const [name, table] of [["messages", mdMessages(schema)], ["error kinds", mdErrors(schema)]]) {
    const begin = `<!-- BEGIN ${name}: ${HEADER} -->\n`
    const end = `<!-- END ${name} -->`
    const from = out.indexOf(begin)
    const to = out.indexOf(end)
    if (from < 0 || to < from) throw new Error(`PROTOCOL.md: the markers of the ${name} table are missing: ${begin.trim()} ... ${end}`)
    out = out.slice(0, from + begin.length) + table + out.slice(to)
  }
  return out
}

// -- main --------------------------------------------------------------------------------------

/** What each generated file should hold now: `[path, text]` pairs. */
export const render = () => {
  const schema = readSchema()
  const read = (path) => readFileSync(join(root, path), "utf8")
  return [
    ["src/internal/messages.ts", tsMessages(schema)],
    ["src/internal/error-texts.ts", tsErrorTexts(schema)],
    ["python/skyward_wire/_messages.py", pyMessages(schema)],
    ["python/skyward_wire/_error_texts.py", pyErrorTexts(schema)],
    ["PROTOCOL.md", protocolMd(schema, read("PROTOCOL.md"))]
  ]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check")
  const stale = []
  for (const [path, text] of render()) {
    let current
    try {
      current = readFileSync(join(root, path), "utf8")
    } catch {
      current = undefined
    }
    if (current === text) continue
    stale.push(path)
    if (!check) writeFileSync(join(root, path), text)
  }
  if (check && stale.length > 0) {
    console.error(`out of date with schema/messages.json: ${stale.join(", ")}; run \`${COMMAND}\``)
    process.exit(1)
  }
  if (!check) console.log(stale.length === 0 ? "up to date" : `wrote ${stale.join(", ")}`)
}
