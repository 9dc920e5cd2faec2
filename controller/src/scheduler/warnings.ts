import { sql } from "drizzle-orm";
import { rowsOf } from "../db/migrate.ts";
import type { Tx } from "../jobs/job-events.ts";

/** A warning as read: its text, when it was first and last given, how often since it was last read. */
export interface SchedulerWarning {
  message: string;
  firstAt: Date;
  lastAt: Date;
  count: number;
}

/** Records warnings (free text; the same text again counts once more). */
export async function recordWarnings(tx: Pick<Tx, "execute">, messages: string[]): Promise<void> {
  const unique = [...new Set(messages)];
  if (!unique.length) return;
  await tx.execute(sql`
    insert into scheduler_warnings (message)
    select jsonb_array_elements_text(${JSON.stringify(unique)}::jsonb)
    on conflict (message) do update set last_at = now(), count = scheduler_warnings.count + 1`);
}

/** Reads every warning and dismisses it (wr: a GET dismisses them). */
export async function takeWarnings(tx: Pick<Tx, "execute">): Promise<SchedulerWarning[]> {
  type Row = { message: string; first_at: string | Date; last_at: string | Date; count: number };
  const rows = rowsOf<Row>(await tx.execute(sql`delete from scheduler_warnings returning message, first_at, last_at, count`));
  return rows
    .map((r) => ({ message: r.message, firstAt: new Date(r.first_at), lastAt: new Date(r.last_at), count: Number(r.count) }))
    .sort((a, b) => a.firstAt.getTime() - b.firstAt.getTime());
}
