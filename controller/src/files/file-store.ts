import { randomUUID } from "node:crypto";
import { closeSync, existsSync, openSync, readSync, rmSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { and, desc, eq, isNull } from "drizzle-orm";
import { notFound } from "@drover/shared/errors";
import type { Config } from "@drover/shared/config";
import type { Principal } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { files, type StoredFileRow } from "../db/schema.ts";
import { receiveFile } from "./receive-file.ts";

// The file store: uploaded data under DROVER_HOME (files.dir), addressed by a 32-hex id, its
// metadata in the database. Users see and fetch only their own files; admins all.

/** Where stored files live: files.dir, or DROVER_HOME/files/store. */
export const storeDir = (config: Config) => config.files.dir || join(config.home, "files", "store");

/** A stored file's content on disk. */
export const storedPath = (config: Config, id: string) => join(storeDir(config), id.slice(0, 2), id);

/** A file name as given, made safe to keep and to create (as werkzeug's secure_filename does): no directories, no odd characters. */
export function safeFileName(name: string): string {
  const base = basename(name.replaceAll("\\", "/"))
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._]+/, "");
  return base.slice(0, 200) || "file";
}

/** The format of a file: FITS from its header ("SIMPLE  =" in its first card) or extension, else the extension, lower-cased. */
export function detectFormat(name: string, head: Uint8Array): string {
  const ext = extname(name).slice(1).toLowerCase();
  if (new TextDecoder().decode(head.subarray(0, 9)) === "SIMPLE  =" || ["fits", "fit", "fts"].includes(ext)) return "fits";
  return ext;
}

function firstBytes(path: string, n: number): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(n);
    const read = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/**
 * Stores an upload for its owner, streamed to disk as it arrives (never held whole in memory;
 * more than maxBytes is refused with 413 and leaves nothing behind), and records it.
 */
export async function storeFile(
  core: Core,
  owner: string,
  originalName: string,
  content: AsyncIterable<Uint8Array>,
  maxBytes: number,
  opts: { execution?: string } = {},
): Promise<StoredFileRow> {
  const id = randomUUID().replaceAll("-", "");
  const target = storedPath(core.config, id);
  const { bytes, sha256 } = await receiveFile(content, maxBytes, () => target, join(storeDir(core.config), ".incoming"));
  const name = safeFileName(originalName);
  try {
    const [row] = await core.db
      .insert(files)
      .values({ id, owner, name, sizeBytes: bytes, sha256, format: detectFormat(name, firstBytes(target, 80)), execution: opts.execution ?? null })
      .returning();
    return row!;
  } catch (e) {
    rmSync(target, { force: true });
    throw e;
  }
}

/** The file, if it exists and the principal may see it; another user's file is "not found". */
export async function getFile(core: Core, principal: Principal, id: string): Promise<StoredFileRow> {
  const [row] = /^[0-9a-f]{32}$/.test(id) ? await core.db.select().from(files).where(eq(files.id, id)) : [];
  if (!row || (principal.role !== "admin" && row.owner !== principal.username) || !existsSync(storedPath(core.config, row.id))) {
    throw notFound(`File with uuid ${id} not found on the system!`);
  }
  return row;
}

/** The principal's uploads (everyone's for admins), newest first; a workflow's own files are not among them. */
export async function listFiles(core: Core, principal: Principal): Promise<StoredFileRow[]> {
  const q = core.db.select().from(files).orderBy(desc(files.createdAt));
  return principal.role === "admin" ? q.where(isNull(files.execution)) : q.where(and(eq(files.owner, principal.username), isNull(files.execution)));
}

/** Removes a file: its record, then its content. */
export async function removeFile(core: Core, principal: Principal, id: string): Promise<StoredFileRow> {
  const row = await getFile(core, principal, id);
  await core.db.delete(files).where(and(eq(files.id, row.id), eq(files.owner, row.owner)));
  rmSync(storedPath(core.config, row.id), { force: true });
  return row;
}
