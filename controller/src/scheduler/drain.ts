import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { clusterSettings } from "../db/schema.ts";
import type { Tx } from "../jobs/job-events.ts";

// Draining (wr's "draining" mode, MDWorkbench's maintenance): an administrator's switch, kept in
// the database so every controller honours it. While it is on, nothing new starts; running jobs
// finish.

const KEY = "draining";

/** True while the cluster is draining. */
export async function isDraining(db: Pick<Tx, "select">): Promise<boolean> {
  const [row] = await db.select({ value: clusterSettings.value }).from(clusterSettings).where(eq(clusterSettings.key, KEY));
  return row?.value === true;
}

/** Turns draining on or off. */
export async function setDraining(db: Db, on: boolean, by: string): Promise<void> {
  await db
    .insert(clusterSettings)
    .values({ key: KEY, value: on, updatedBy: by })
    .onConflictDoUpdate({ target: clusterSettings.key, set: { value: on, updatedBy: by, updatedAt: sql`now()` } });
}
