import { sql } from "drizzle-orm";
import type { Core } from "../core.ts";
import { jobs, type Job } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import { inArray } from "drizzle-orm";

/** States a job may be removed in (wr's "deletable": neither on a node nor complete). */
export const removableStates = ["queued", "failed", "cancelled", "lost"];

/**
 * Removes jobs from the queue for good (wr's DELETE state=deletable): only those neither on a
 * node nor complete, and never one that a job not removed with it still waits for (by its id or
 * through a dependency group) — removing a job's whole dependency tree at once is allowed.
 * Returns the jobs removed, as they were. The caller has checked that the principal may act on them.
 */
export async function removeJobs(core: Core, ids: number[]): Promise<Job[]> {
  if (!ids.length) return [];
  const removed = await core.db.transaction(async (tx) => {
    const rows = await tx.select().from(jobs).where(inArray(jobs.id, ids)).for("update");
    let keep = new Set(rows.filter((j) => removableStates.includes(j.state)).map((j) => j.id));
    // a job something else still waits for stays, and then so do the jobs it waits for
    for (;;) {
      const set = [...keep];
      if (!set.length) break;
      const blocked = rowsOf<{ id: number | string }>(
        await tx.execute(sql`
          select c.id from jobs c
          where c.id = any(${`{${set.join(",")}}`}::bigint[])
            and exists (select 1 from jobs d
              where d.state <> 'completed' and d.id <> all(${`{${set.join(",")}}`}::bigint[])
                and (d.depends_on @> jsonb_build_array(c.id)
                  or (c.dep_groups <> '[]'::jsonb and d.after_groups <> '[]'::jsonb
                      and d.after_groups ?| array(select jsonb_array_elements_text(c.dep_groups)))))`),
      ).map((r) => Number(r.id));
      if (!blocked.length) break;
      keep = new Set(set.filter((id) => !blocked.includes(id)));
    }
    const gone = rows.filter((j) => keep.has(j.id));
    if (!gone.length) return [];
    const goneIds = gone.map((j) => j.id);
    await tx.execute(sql`delete from pending_actions where job_id = any(${`{${goneIds.join(",")}}`}::bigint[])`);
    await tx.execute(sql`delete from job_events where job_id = any(${`{${goneIds.join(",")}}`}::bigint[])`);
    await tx.delete(jobs).where(inArray(jobs.id, goneIds));
    return gone;
  });
  if (removed.length) core.kick();
  return removed;
}
