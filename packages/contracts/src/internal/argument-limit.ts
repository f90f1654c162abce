import { constants } from "node:buffer"

/** The default cap on the large arguments (blobs) one task may carry: 1 GiB. */
export const DEFAULT_ARGUMENT_LIMIT = 1024 ** 3

/** The highest argument limit: Node holds each blob in one buffer, and a buffer holds at most this many bytes. */
export const MAX_ARGUMENT_LIMIT: number = constants.MAX_LENGTH
