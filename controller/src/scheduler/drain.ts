import { sql } from "drizzle-orm";
import { jsonValue, rowsOf } from "../db/migrate.ts";
import { prepared } from "../db/recordset.ts";
import type { Db } from "../db/connect.ts";
import { clusterSettings } from "../db/schema.ts";
import type { Tx } from "../jobs/job-events.ts";

// Draining (wr's "draining" mode, MDWorkbench's maintenance): an administrator's switch, kept in
// the database so every controller honours it. While it is on, nothing new starts; running jobs
// finish.

const KEY = "draining";

/** True while the cluster is draining (read on every scheduling pass: one prepared statement). */
export async function isDraining(db: Pick<Tx, "execute">): Promise<boolean> {
  const rows = rowsOf<{ value: unknown }>(await db.execute(prepared(sql`select value from cluster_settings where key = 'draining'`)));
  return rows[0] !== undefined && jsonValue<unknown>(rows[0].value) === true;
}

/** Turns draining on or off. */
export async function setDraining(db: Db, on: boolean, by: string): Promise<void> {
  await db
    .insert(clusterSettings)
    .values({ key: KEY, value: on, updatedBy: by })
    .onConflictDoUpdate({ target: clusterSettings.key, set: { value: on, updatedBy: by, updatedAt: sql`now()` } });
}
