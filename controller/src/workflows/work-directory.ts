import { lstatSync, openSync, readSync, closeSync, readdirSync, realpathSync } from "node:fs";
import { join, posix, sep } from "node:path";
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import * as tar from "tar";
import { invalid, notFound } from "@drover/shared/errors";

// A workflow's work directory on the controller: unpacked from the tar.gz its client sent —
// every entry checked first, the archive refused whole if one would land outside — and later
// holding the outputs its tasks left, brought back from the nodes.

/** The most entries a work directory's archive may hold. */
const MAX_ENTRIES = 100_000;

/** An entry's path as it will land, or a reason it may not. */
function entryProblem(entry: { path: string; type: string; linkpath?: string }): string | undefined {
  const path = entry.path.replace(/^(\.\/)+/, "");
  if (entry.path.startsWith("/") || /^[A-Za-z]:/.test(entry.path)) return `entry ${entry.path} has an absolute path`;
  if (path.split("/").includes("..")) return `entry ${entry.path} leads outside the work directory (..)`;
  if (entry.type === "SymbolicLink" || entry.type === "Link") {
    const target = entry.linkpath ?? "";
    // a symbolic link is read from its own directory, a hard link from the archive's root
    const from = entry.type === "SymbolicLink" ? posix.dirname(path) : ".";
    const resolved = posix.normalize(posix.join(from, target));
    if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) return `entry ${entry.path} is a link to ${target}, outside the work directory`;
    return undefined;
  }
  if (!["File", "OldFile", "ContiguousFile", "Directory"].includes(entry.type)) return `entry ${entry.path} is a ${entry.type}: only files, directories and links inside are allowed`;
  return undefined;
}

/**
 * Unpacks a tar.gz into `into` (an empty directory) once every entry has been checked: not a
 * gzip, not a tar, an absolute path, "..", a link leading outside, a device: a 400 naming it,
 * and nothing unpacked. Uncompressed content is bounded by maxBytes. Returns the regular files
 * it holds, as relative paths.
 */
export async function unpackWorkDirectory(archive: string, into: string, maxBytes: number): Promise<string[]> {
  const head = new Uint8Array(2);
  const fd = openSync(archive, "r");
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) throw invalid("workDirectory is not a gzip file: send the work directory as a tar.gz");
  let problem: string | undefined;
  let entries = 0;
  let bytes = 0;
  try {
    await tar.t({
      file: archive,
      strict: true,
      onReadEntry: (e) => {
        entries++;
        bytes += e.size ?? 0;
        problem ??= entryProblem({ path: e.path, type: e.type, linkpath: e.linkpath });
        if (entries > MAX_ENTRIES) problem ??= `the archive has more than ${MAX_ENTRIES} entries`;
        if (bytes > maxBytes) problem ??= `the archive unpacks to more than ${maxBytes} bytes`;
        e.resume();
      },
    });
  } catch (e) {
    const code = (e as { code?: string }).code ?? "";
    if (code === "TAR_BAD_ARCHIVE" || code === "TAR_ENTRY_INVALID") throw invalid("workDirectory is a gzip file but not a tar archive: send the work directory as a tar.gz");
    throw invalid(`workDirectory could not be read as a tar.gz: ${(e as Error).message}`);
  }
  if (problem) throw invalid(`workDirectory refused: ${problem}`);
  if (entries === 0) throw invalid("workDirectory is empty or not a tar archive: send the work directory as a tar.gz");
  await tar.x({ file: archive, cwd: into, strict: true, preserveOwner: false });
  return listWorkFiles(into);
}

/** The regular files under a directory, as sorted relative paths (links are not followed). */
export function listWorkFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, path));
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) out.push(path);
    }
  };
  walk("");
  return out;
}

/** An async iterable (node-tar's stream is a minipass, not a node Readable) as a web stream, pulled as it is read. */
function webStream(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await it.return?.();
    },
  });
}

/**
 * What a download of `path` inside the work directory answers: a file gzipped, a directory
 * as a tar.gz. A path that leads outside (.., a link out) is refused; one that does not exist
 * is 404.
 */
export function openDownload(workDir: string, path: string): { kind: "file" | "directory"; name: string; stream: ReadableStream<Uint8Array> } {
  if (path.includes("\0") || path.split("/").includes("..") || path.startsWith("/")) throw invalid(`path ${path} leads outside the execution's work directory`);
  const full = join(workDir, path);
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    throw notFound(`No file or directory ${path} in the execution's work directory`);
  }
  const root = realpathSync(workDir);
  if (real !== root && !real.startsWith(root + sep)) throw invalid(`path ${path} leads outside the execution's work directory`);
  const st = lstatSync(real);
  const name = path.split("/").filter(Boolean).pop() ?? "workDirectory";
  if (st.isDirectory()) {
    const packed = tar.c({ gzip: true, cwd: real, portable: true }, ["."]);
    return { kind: "directory", name, stream: webStream(packed as unknown as AsyncIterable<Uint8Array>) };
  }
  if (!st.isFile()) throw notFound(`${path} is neither a file nor a directory`);
  const gz = Readable.from(Bun.file(real).stream() as unknown as AsyncIterable<Uint8Array>).pipe(createGzip());
  return { kind: "file", name, stream: Readable.toWeb(gz) as ReadableStream<Uint8Array> };
}
