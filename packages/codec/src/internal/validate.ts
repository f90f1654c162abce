// Message validation (driven by the MESSAGE_FIELDS table) and decompression of LZ4-tagged byte strings.

import { Tag } from "cbor-x"
import { decompress } from "./compression.js"
import { LZ4_TAG, MAX_UINT } from "./constants.js"
import { InvalidCbor, InvalidMessage, isWireError } from "./errors.js"
import { MESSAGE_FIELDS, type FieldKind, type Message, type MessageType } from "./messages.js"

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k)

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null) return false
  const proto: unknown = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Remaining decompression allowance of one message. */
interface Budget {
  left: number
}

const describe = (kind: FieldKind): string => {
  switch (kind) {
    case "uint":
      return "a uint (an integer from 0 to 2^53-1)"
    case "float":
      return "a number"
    case "text":
      return "a text string"
    case "bytes":
      return "a byte string"
    case "array":
      return "an array"
    case "any":
      return "a CBOR value"
    case "textArray":
      return "an array of text strings"
    case "bytesArray":
      return "an array of byte strings"
    default:
      return `one of ${kind.map((k) => JSON.stringify(k)).join(", ")}`
  }
}

/** A byte string, possibly LZ4-compressed; undefined when `v` is neither. */
const bytesOf = (v: unknown, type: string, field: string, budget: Budget): Uint8Array | undefined => {
  if (v instanceof Uint8Array) return v
  if (v instanceof Tag && v.tag === LZ4_TAG && v.value instanceof Uint8Array) {
    let out: Uint8Array
    try {
      out = decompress(v.value, budget.left)
    } catch (e) {
      const reason = isWireError(e) && e._tag === "InvalidCbor" ? e.reason : String(e)
      throw new InvalidCbor({ reason: `${type}.${field}: ${reason}` })
    }
    budget.left -= out.length
    return out
  }
  return undefined
}

const check = (type: string, field: string, kind: FieldKind, v: unknown, budget: Budget): unknown => {
  switch (kind) {
    case "uint":
      if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_UINT) return v === 0 ? 0 : v
      break
    case "float":
      if (typeof v === "number") return v
      break
    case "text":
      if (typeof v === "string") return v
      break
    case "bytes": {
      const b = bytesOf(v, type, field, budget)
      if (b !== undefined) return b
      break
    }
    case "array":
      if (Array.isArray(v)) return v
      break
    case "any":
      return v
    case "textArray":
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v
      break
    case "bytesArray":
      if (Array.isArray(v)) {
        const out: Uint8Array[] = new Array(v.length)
        let ok = true
        for (let i = 0; i < v.length; i++) {
          const b = bytesOf(v[i], type, field, budget)
          if (b === undefined) {
            ok = false
            break
          }
          out[i] = b
        }
        if (ok) return out
      }
      break
    default:
      if (typeof v === "string" && kind.includes(v)) return v
      break
  }
  throw new InvalidMessage({ messageType: type, field, reason: `must be ${describe(kind)}` })
}

/**
 * Validates a decoded CBOR value as a message: returns a fresh object holding only the known fields,
 * with LZ4-tagged byte strings decompressed (at most `maxBytes` decompressed bytes per message).
 */
export const validateMessage = (value: unknown, maxBytes: number): Message => {
  if (!isPlainObject(value)) throw new InvalidMessage({ reason: "a message must be a map" })
  if (!hasOwn(value, "type")) throw new InvalidMessage({ field: "type", reason: "missing required field" })
  const type = value["type"]
  if (typeof type !== "string") throw new InvalidMessage({ field: "type", reason: "must be a text string" })
  if (!hasOwn(MESSAGE_FIELDS, type)) {
    throw new InvalidMessage({ messageType: type, field: "type", reason: `unknown message type ${JSON.stringify(type)}` })
  }
  const fields = MESSAGE_FIELDS[type as MessageType]
  const out: Record<string, unknown> = { type }
  const budget: Budget = { left: maxBytes }
  for (const [name, kind, required] of fields) {
    if (!hasOwn(value, name)) {
      if (required) throw new InvalidMessage({ messageType: type, field: name, reason: "missing required field" })
      continue
    }
    out[name] = check(type, name, kind, value[name], budget)
  }
  return out as unknown as Message
}
