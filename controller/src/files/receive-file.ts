import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { DroverError } from "@drover/shared/errors";

/**
 * Streams a request body to a file, never holding it whole in memory: written to a temporary
 * file beside the target and renamed into place when complete (so a failed upload leaves
 * nothing behind). More than maxBytes is refused (413). `target` may depend on the content's
 * MD5 (for uploads named after it). Returns the final path, the MD5 and SHA-256 and the size.
 */
export async function receiveFile(
  body: AsyncIterable<Uint8Array> | null,
  maxBytes: number,
  target: (md5: string) => string,
  tmpDir: string,
  /** true: when the target exists already, it is kept as it is (the target is named after the content) */
  keepExisting = false,
): Promise<{ path: string; md5: string; sha256: string; bytes: number }> {
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const tmp = `${tmpDir}/.upload-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const hash = createHash("md5");
  const sha = createHash("sha256");
  const writer = Bun.file(tmp).writer();
  let bytes = 0;
  try {
    if (body) {
      for await (const chunk of body) {
        bytes += chunk.byteLength;
        if (bytes > maxBytes) throw new DroverError("too_large", `The upload is larger than ${maxBytes} bytes (http.maxBodyBytes)`);
        hash.update(chunk);
        sha.update(chunk);
        writer.write(chunk);
      }
    }
    await writer.end();
    const md5 = hash.digest("hex");
    const path = target(md5);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (keepExisting && existsSync(path)) {
      rmSync(tmp, { force: true });
    } else {
      moveInto(tmp, path);
    }
    return { path, md5, sha256: sha.digest("hex"), bytes };
  } catch (e) {
    try {
      await writer.end();
    } catch {
      // the writer failed already; the file is removed below
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** rename, or copy and remove where the target is on another filesystem. */
function moveInto(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    copyFileSync(from, to);
    rmSync(from, { force: true });
  }
}
