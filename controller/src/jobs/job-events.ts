import type { Db } from "../db/connect.ts";
import { asc, eq, sql } from "drizzle-orm";
import { jobEvents } from "../db/schema.ts";
import { prepared, recordset } from "../db/recordset.ts";
import { rowsOf } from "../db/migrate.ts";

/** Anything that can run queries: the database or an open transaction. */
export type Tx = Pick<Db, "select" | "insert" | "update" | "delete" | "execute">;

export interface NewJobEvent {
  jobId: number;
  kind: string;
  data: Record<string, unknown>;
}

/** Records what happened to a job; always called in the transaction that changed it. */
export async function recordJobEvent(tx: Tx, jobId: number, kind: string, data: Record<string, unknown> = {}): Promise<void> {
  await tx.insert(jobEvents).values({ jobId, kind, data });
}

/** recordJobEvent for many events in one statement. */
export async function recordJobEvents(tx: Tx, events: NewJobEvent[]): Promise<void> {
  if (!events.length) return;
  await tx.execute(prepared(sql`
    insert into job_events (job_id, kind, data)
    select v.job_id, v.kind, v.data from ${recordset(
      events.map((e) => ({ job_id: e.jobId, kind: e.kind, data: e.data })),
      "job_id bigint, kind text, data jsonb",
    )}`));
}

/** A job's events, oldest first. */
export async function listJobEvents(db: Pick<Tx, "select">, jobId: number) {
  return db.select().from(jobEvents).where(eq(jobEvents.jobId, jobId)).orderBy(asc(jobEvents.id));
}

/**
 * Whether the start of this attempt of the job was recorded. A controller that dies between
 * dispatching a job and storing its agent's start report leaves it dispatching (or, found out
 * meanwhile, lost); its agent then reports the run to another controller.
 */
export async function startRecorded(tx: Tx, jobId: number, attempt: number): Promise<boolean> {
  const rows = rowsOf(await tx.execute(sql`select 1 from job_events where job_id = ${jobId} and kind = 'started' and (data->>'attempt')::int = ${attempt} limit 1`));
  return rows.length > 0;
}
