import { sql } from "drizzle-orm";
import { logger } from "@drover/shared/log";
import type { Db } from "../db/connect.ts";
import { rowsOf } from "../db/migrate.ts";
import type { AccountingRecord } from "../db/schema.ts";

const log = logger("accounting");

// Serialises the aggregation between controllers sharing one Postgres (one does it per round).
const ACCOUNTING_LOCK = 7_070_004;

const empty = (): AccountingRecord => ({ nfiles: 0, dataBytes: 0, njobs: 0, jobsByState: {}, failedByCause: {}, runtimeSeconds: 0, completedRuntimeSeconds: 0, cpuHours: 0 });

/**
 * Aggregates every user's usage from the jobs and files tables into the accounting table (as
 * caesar-rest's accounter does, periodically). One controller at a time does it; returns false
 * when another one was doing it.
 */
export async function aggregateAccounting(db: Db): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [lock] = rowsOf<{ ok: boolean }>(await tx.execute(sql`select pg_try_advisory_xact_lock(${ACCOUNTING_LOCK}) as ok`));
    if (!lock?.ok) return false;
    type JobRow = { owner: string; state: string; end_cause: string | null; n: number | string; runtime: number | string | null; completed: number | string | null; cpu_ms: number | string | null };
    const jobRows = rowsOf<JobRow>(
      await tx.execute(sql`
        select owner, state, end_cause, count(*) as n, sum(coalesce(walltime_used_ms, 0)) as runtime,
               sum(walltime_used_ms) filter (where state = 'completed') as completed,
               sum(greatest(cpus, 1) * walltime_used_ms) filter (where state = 'completed') as cpu_ms
        from jobs group by owner, state, end_cause`),
    );
    const fileRows = rowsOf<{ owner: string; n: number | string; bytes: number | string }>(await tx.execute(sql`select owner, count(*) as n, sum(size_bytes) as bytes from files group by owner`));
    const users = rowsOf<{ username: string }>(await tx.execute(sql`select username from users`));
    const records = new Map<string, AccountingRecord>(users.map((u) => [u.username, empty()]));
    const of = (owner: string) => records.get(owner) ?? records.set(owner, empty()).get(owner)!;
    for (const r of jobRows) {
      const rec = of(r.owner);
      const n = Number(r.n);
      rec.njobs += n;
      rec.jobsByState[r.state] = (rec.jobsByState[r.state] ?? 0) + n;
      if (r.state === "failed") rec.failedByCause[r.end_cause ?? "exit"] = (rec.failedByCause[r.end_cause ?? "exit"] ?? 0) + n;
      rec.runtimeSeconds += Number(r.runtime ?? 0) / 1000;
      rec.completedRuntimeSeconds += Number(r.completed ?? 0) / 1000;
      rec.cpuHours += Number(r.cpu_ms ?? 0) / 3_600_000;
    }
    for (const r of fileRows) {
      const rec = of(r.owner);
      rec.nfiles = Number(r.n);
      rec.dataBytes = Number(r.bytes);
    }
    const rows = [...records].map(([username, record]) => ({ username, record }));
    if (rows.length) {
      await tx.execute(sql`
        insert into accounting (username, record, updated_at)
        select username, record, now() from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(username text, record jsonb)
        on conflict (username) do update set record = excluded.record, updated_at = now()`);
    }
    return true;
  });
}

/** A user's aggregated usage and when it was aggregated (aggregated now when it never was). */
export async function accountingOf(db: Db, username: string): Promise<{ record: AccountingRecord; at: Date }> {
  const read = async () => rowsOf<{ record: unknown; updated_at: string | Date }>(await db.execute(sql`select record, updated_at from accounting where username = ${username}`))[0];
  let row = await read();
  if (!row) {
    await aggregateAccounting(db);
    row = await read();
  }
  if (!row) return { record: empty(), at: new Date() };
  return { record: (typeof row.record === "string" ? JSON.parse(row.record) : row.record) as AccountingRecord, at: new Date(row.updated_at) };
}

/** Every user's aggregated usage. */
export async function allAccounting(db: Db): Promise<{ username: string; record: AccountingRecord; at: Date }[]> {
  const rows = rowsOf<{ username: string; record: unknown; updated_at: string | Date }>(await db.execute(sql`select username, record, updated_at from accounting order by username`));
  return rows.map((r) => ({ username: r.username, record: (typeof r.record === "string" ? JSON.parse(r.record) : r.record) as AccountingRecord, at: new Date(r.updated_at) }));
}

/** Aggregates every intervalMs (not at start: a user's record is made on demand until the first round). */
export function startAccounting(db: Db, intervalMs: number): () => void {
  const run = () => aggregateAccounting(db).catch((error) => log.warn("accounting failed", { error }));
  const timer = setInterval(run, intervalMs);
  return () => clearInterval(timer);
}
