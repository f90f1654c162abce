import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"

/** The SHA-256 of a file's content, hex (read as a stream: a large file is never held whole). */
export const sha256File = (file: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const digest = createHash("sha256")
    createReadStream(file)
      .on("data", (chunk) => digest.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(digest.digest("hex")))
  })
