/** The protocol version carried by `hello.protocol`. */
export const PROTOCOL_VERSION = 1

/** Default limit on a frame's CBOR body, and on the decompressed bytes of one message: 256 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024

/** Byte strings longer than this many bytes are LZ4-compressed (when that makes them smaller). */
export const DEFAULT_COMPRESS_THRESHOLD = 4096

/** CBOR tag wrapping an LZ4-frame-compressed byte string ("LZ4"). */
export const LZ4_TAG = 0x4c5a34

/** The largest integer both languages represent exactly (2^53 - 1); the ceiling of a `uint`. */
export const MAX_UINT = Number.MAX_SAFE_INTEGER
