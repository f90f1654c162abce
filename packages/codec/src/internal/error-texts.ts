// Generated from schema/messages.json by scripts/gen-messages.mjs: do not edit. Run `npx -y pnpm@10 --filter @skyward/codec gen:messages`.
// The wording of every error whose kind fixes it, for Node and (in _error_texts.py) for Python.

import type { ErrorMessage } from "./messages.js"

/** An `error` message without its `type` and `id`: what a task failed with, wherever it is forwarded. */
export type ErrorFrame = Omit<ErrorMessage, "type" | "id">

// the shortest decimal that reads back as the same number: what Python's _number writes too
const formatNumber = (n: number): string => String(n)

/** The `excType` of the error kinds that fix it (the others carry their exception's). */
export const errorExcTypes = {
  timeout: "skyward.TaskTimeout",
  cancelled: "skyward.TaskCancelled",
  lost: "skyward.WorkerLost",
  protocol: "skyward.ProtocolError",
  blob: "skyward.BlobMissing"
} as const

/** The message of each error kind that has a fixed wording, its placeholders as parameters. */
export const errorTexts = {
  /** The task ran longer than its timeout and was stopped. */
  timeout: (seconds: number): string => `the task ran longer than its timeout of ${formatNumber(seconds)}s`,
  /** The task was cancelled before it finished. */
  cancelled: (reason: string): string => `the task was cancelled (${reason})`,
  /** The process running the task died (agent: its slot process) or its node was lost (Node, after the retries). */
  lost: (reason: string, attempts: number): string => `${reason} (attempts: ${formatNumber(attempts)})`,
  /** The receiver does not hold a blob the task refers to: the sender sends it again, then the task. */
  blob: (holder: string, hashes: string): string => `${holder} does not hold blob(s) ${hashes}`
} as const
