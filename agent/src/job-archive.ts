import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readlinkSync, readSync, realpathSync } from "node:fs";
import { join, sep } from "node:path";
import { Zip, ZipDeflate } from "fflate";
import { ArchiveJob_Format, type ArchiveJob } from "@drover/proto/service";
import { startedByBun } from "./escapees.ts";

/** Pieces of an archive are sent this large at most. */
const PIECE = 256 * 1024;

type Send = (data: Uint8Array, last: boolean, error: string) => void;

/**
 * Streams what the controller asked of a job's directory, piece by piece, through `send`; the
 * last piece says whether it worked:
 * - tar.gz: the whole job directory (DATA_DIR/jobs/ID.ATTEMPT), its entries under `top`; tar
 *   runs without a shell, its arguments the directory's name and the top name;
 * - zip: the listed files of the run's working directory (its generated files);
 * - file: one listed file as it is.
 * Listed paths must be plain relative paths of regular files that resolve inside the working
 * directory (no "..", no symbolic link leading out).
 */
export async function streamJobArchive(jobsDir: string, request: Pick<ArchiveJob, "jobId" | "attempt" | "top" | "format" | "paths" | "directory">, send: Send): Promise<void> {
  const dirName = `${request.jobId}.${request.attempt}`;
  const { top } = request;
  if (!/^[A-Za-z0-9._-]*$/.test(top)) return send(new Uint8Array(), true, "bad archive request");
  if (!existsSync(join(jobsDir, dirName))) return send(new Uint8Array(), true, `the job's directory is no longer on this node`);
  if (request.format === ArchiveJob_Format.TAR_GZ) {
    if (!top) return send(new Uint8Array(), true, "bad archive request");
    return streamTarGz(jobsDir, dirName, top, send);
  }
  const base = request.directory || join(jobsDir, dirName);
  const files: { path: string; full: string }[] = [];
  for (const path of request.paths) {
    const full = fileInside(base, path);
    if (!full) return send(new Uint8Array(), true, `${path} is not a file of the job's directory on this node`);
    files.push({ path, full });
  }
  if (request.format === ArchiveJob_Format.FILE) {
    if (files.length !== 1) return send(new Uint8Array(), true, "bad archive request");
    return streamFile(files[0]!.full, send);
  }
  return streamZip(files, top, send);
}

/** The full path of `path` inside `base` when it names a regular file there, else undefined. */
function fileInside(base: string, path: string): string | undefined {
  if (!path || path.startsWith("/") || path.split("/").some((s) => s === "" || s === "." || s === "..")) return undefined;
  try {
    const full = join(base, path);
    const real = realpathSync(full);
    const root = realpathSync(base);
    if (!real.startsWith(root + sep) || !lstatSync(real).isFile()) return undefined;
    return real;
  } catch {
    return undefined;
  }
}

/** Collects output into pieces of PIECE bytes for `send`. */
function piecer(send: Send) {
  let pending = new Uint8Array(0);
  return {
    push(chunk: Uint8Array) {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      pending = joined;
      while (pending.length >= PIECE) {
        send(pending.subarray(0, PIECE), false, "");
        pending = pending.slice(PIECE);
      }
    },
    end(error: string) {
      send(pending, true, error);
    },
  };
}

async function streamTarGz(jobsDir: string, dirName: string, top: string, send: Send): Promise<void> {
  const tar = startedByBun(Bun.spawn(["tar", "-czf", "-", "-C", jobsDir, `--transform=s|^${dirName}|${top}|`, dirName], { stdout: "pipe", stderr: "pipe", stdin: "ignore" }));
  const out = piecer(send);
  for await (const chunk of tar.stdout) out.push(chunk);
  const code = await tar.exited;
  out.end(code === 0 ? "" : `tar failed: ${(await new Response(tar.stderr).text()).trim() || `exit code ${code}`}`);
}

/**
 * Reads a file in PIECE-sized reads (a file's content never sits whole in memory). `full` is a
 * resolved path checked to be inside the job's directory; the file opened must be that very
 * file, a regular one: a job's account could swap a name for a link between the check and the
 * open, and the agent reads with root's rights.
 */
function* readPieces(full: string): Generator<Uint8Array> {
  const fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const opened = existsSync(`/proc/self/fd/${fd}`) ? readlinkSync(`/proc/self/fd/${fd}`) : full;
    if (opened !== full || !fstatSync(fd).isFile()) throw new Error(`${full} changed while it was read`);
    for (;;) {
      const buf = new Uint8Array(PIECE);
      const n = readSync(fd, buf, 0, PIECE, null);
      if (n <= 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

async function streamFile(full: string, send: Send): Promise<void> {
  const out = piecer(send);
  for (const piece of readPieces(full)) {
    out.push(piece);
    await Promise.resolve(); // let the stream's other traffic through between pieces
  }
  out.end("");
}

/** The files as one zip (fflate, deflated), entries under `top/` when a top is given. */
async function streamZip(files: { path: string; full: string }[], top: string, send: Send): Promise<void> {
  const out = piecer(send);
  let failed = "";
  const zip = new Zip((err, data) => {
    if (err) failed = err.message;
    else out.push(data);
  });
  for (const f of files) {
    const entry = new ZipDeflate(top ? `${top}/${f.path}` : f.path, { level: 6 });
    zip.add(entry);
    for (const piece of readPieces(f.full)) {
      entry.push(piece, false);
      await Promise.resolve();
    }
    entry.push(new Uint8Array(0), true);
  }
  zip.end();
  out.end(failed);
}
