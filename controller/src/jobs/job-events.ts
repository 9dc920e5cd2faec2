import type { Db } from "../db/connect.ts";
import { jobEvents } from "../db/schema.ts";

/** Anything that can run queries: the database or an open transaction. */
export type Tx = Pick<Db, "select" | "insert" | "update" | "delete" | "execute">;

/** Records what happened to a job; always called in the transaction that changed it. */
export async function recordJobEvent(tx: Tx, jobId: number, kind: string, data: Record<string, unknown> = {}): Promise<void> {
  await tx.insert(jobEvents).values({ jobId, kind, data });
}
