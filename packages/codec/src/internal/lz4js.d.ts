// Minimal declarations for the parts of lz4js (a CommonJS package without types) that we use.

declare module "lz4js" {
  interface Lz4js {
    /** Upper bound of the LZ4 frame size for `n` input bytes. */
    compressBound(n: number): number
    /** Writes an LZ4 frame for `src` into `dst` (at least `compressBound(src.length)` long); returns the byte count. */
    compressFrame(src: Uint8Array, dst: Uint8Array): number
    /** Compresses `src` to a new, exactly sized LZ4 frame. */
    compress(src: Uint8Array, maxSize?: number): Uint8Array
    /** Decompresses an LZ4 frame (unchecked: do not use on untrusted input). */
    decompress(src: Uint8Array, maxSize?: number): Uint8Array
  }
  const lz4js: Lz4js
  export default lz4js
}
