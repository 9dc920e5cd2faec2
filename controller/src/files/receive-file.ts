import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { DroverError } from "@drover/shared/errors";

/** Bytes gathered before each write. */
const PIECE = 1024 * 1024;

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
  // written in pieces of up to 1 MiB through a file handle, whose failures (a full disk) are
  // ordinary rejections caught below (a Bun FileSink's failed flush could leave the request hanging)
  const file = await open(tmp, "w", 0o600);
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  const writeHeld = async () => {
    if (!heldBytes) return;
    const piece = Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    for (let at = 0; at < piece.length; ) at += (await file.write(piece, at, piece.length - at)).bytesWritten;
  };
  let bytes = 0;
  try {
    if (body) {
      for await (const chunk of body) {
        bytes += chunk.byteLength;
        if (bytes > maxBytes) throw new DroverError("too_large", `The upload is larger than ${maxBytes} bytes (http.maxBodyBytes)`);
        hash.update(chunk);
        sha.update(chunk);
        held.push(new Uint8Array(chunk)); // a copy: the stream may reuse its buffers
        heldBytes += chunk.byteLength;
        if (heldBytes >= PIECE) await writeHeld();
      }
    }
    await writeHeld();
    await file.close();
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
    await file.close().catch(() => {});
    rmSync(tmp, { force: true });
    if (isDiskFull(e)) throw new DroverError("insufficient_storage", "The controller's disk is full: the upload was not kept (nothing of it is left); try again once an administrator has made room");
    throw e;
  }
}

/** A write that failed because the file system is full (or the user's quota is). */
function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || /ENOSPC|no space left/i.test(String((e as Error | undefined)?.message));
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
