import { open } from "node:fs/promises";
import { sql } from "drizzle-orm";
import type { Core } from "../core.ts";
import { rowsOf } from "../db/migrate.ts";
import { storedPath } from "./file-store.ts";

/** A window is never larger than this (the agent asks for 4 MiB at a time). */
const MAX_WINDOW = 8 * 1024 * 1024;

/** A window of a stored file, read piece by piece. */
export interface FileWindow {
  /** the file's whole size */
  size: number;
  pieces(pieceBytes: number): AsyncIterable<{ offset: number; data: Uint8Array; last: boolean }>;
}

/**
 * A window of a stored file a node asked for by content hash (FetchFile): only a file that is an
 * input of a job on that node (dispatched or running) is served, so an agent cannot read files
 * its jobs were not given.
 */
export async function fileWindowForNode(core: Core, nodeId: string, sha256: string, offset: number, length: number): Promise<FileWindow> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a SHA-256");
  if (length <= 0 || length > MAX_WINDOW || offset < 0) throw new Error("bad window");
  const needed = rowsOf<{ one: number }>(
    await core.db.execute(sql`
      select 1 as one from jobs
      where node_id = ${nodeId} and state in ('dispatching', 'running') and input_files @> ${JSON.stringify([{ sha256 }])}::jsonb
      limit 1`),
  );
  if (!needed.length) throw new Error("no job on this node needs that file");
  const [file] = rowsOf<{ id: string; size_bytes: number | string }>(await core.db.execute(sql`select id, size_bytes from files where sha256 = ${sha256} limit 1`));
  if (!file) throw new Error("the file was removed from the store");
  const size = Number(file.size_bytes);
  const path = storedPath(core.config, file.id);
  const end = Math.min(size, offset + length);
  return {
    size,
    async *pieces(pieceBytes: number) {
      const handle = await open(path, "r");
      try {
        for (let at = offset; at < end; at += pieceBytes) {
          const data = new Uint8Array(Math.min(pieceBytes, end - at));
          const { bytesRead } = await handle.read(data, 0, data.length, at);
          if (bytesRead !== data.length) throw new Error("the stored file is shorter than its record");
          yield { offset: at, data, last: at + data.length >= size };
        }
      } finally {
        await handle.close();
      }
    },
  };
}
