import { sql } from "drizzle-orm";
import { now } from "@drover/shared/clock";
import type { Report } from "../db/schema.ts";
import type { Tx } from "../jobs/job-events.ts";

/** One sample (MWS 3.10.4): a snapshot of arbitrary JSON at a time (now when absent). */
export interface NewSample {
  timestamp?: number;
  agent?: string | null;
  data: unknown;
}

export interface SamplesAdded {
  created: number;
  /** samples dated before the open window: stored, but no consolidation will take them */
  late: number;
  /** the start of the window still open when they were added */
  openWindowStart: number;
}

/**
 * Stores samples for a report. One statement whatever the batch size: the batch travels as one
 * JSON parameter and Postgres unpacks it, which keeps ingestion fast on both drivers.
 */
export async function addSamples(tx: Tx, report: Report, batch: NewSample[]): Promise<SamplesAdded> {
  const at = now();
  const openWindowStart = report.nextConsolidationAt.getTime() - report.datapointDurationS * 1000;
  let late = 0;
  const rows = batch.map((s) => {
    const t = s.timestamp ?? at;
    if (t < openWindowStart) late++;
    return { t: new Date(t).toISOString(), a: s.agent ?? null, d: s.data ?? null };
  });
  if (rows.length) {
    await tx.execute(sql`
      insert into samples (report_id, timestamp, agent, data)
      select ${report.id}, (e->>'t')::timestamptz, e->>'a', e->'d'
      from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) as e`);
  }
  return { created: rows.length, late, openWindowStart };
}
