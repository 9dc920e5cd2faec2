import { and, asc, eq, gte, lt, lte, sql } from "drizzle-orm";
import { now } from "@drover/shared/clock";
import { logger } from "@drover/shared/log";
import type { Db } from "../db/connect.ts";
import { rowsOf } from "../db/migrate.ts";
import { datapoints, reports, samples, type Report } from "../db/schema.ts";
import type { Tx } from "../jobs/job-events.ts";
import { consolidate, type ConsolidationFunction } from "./consolidate.ts";

const log = logger("reports");

// Arbitrary constant, with the report id as the second key: whoever holds it consolidates that
// report; other controllers on the same Postgres skip it for this round.
const CONSOLIDATION_LOCK = 7_070_005;

/**
 * MWS 4.2.3: after historical datapoints, the next consolidation is one datapointDuration after
 * the newest endDate; when that is already past, it is the first such interval still ahead.
 * (The report did not exist in between, so those windows hold nothing to consolidate.)
 */
export function firstConsolidationAfterHistory(lastEnd: number, durationMs: number, at: number): number {
  const next = lastEnd + durationMs;
  if (next > at) return next;
  return lastEnd + (Math.floor((at - lastEnd) / durationMs) + 1) * durationMs;
}

/** Keeps only the newest reportSize datapoints (MWS 4.1.2: the report is a ring). */
export async function trimToReportSize(tx: Tx, reportId: number, reportSize: number): Promise<void> {
  await tx.execute(sql`
    delete from datapoints where report_id = ${reportId} and start_date < (
      select start_date from datapoints where report_id = ${reportId}
      order by start_date desc offset ${reportSize - 1} limit 1)`);
}

export interface ConsolidationResult {
  report: string;
  windows: number;
  samples: number;
}

/**
 * Closes every window of the report that has ended by now, oldest first. Windows missed while
 * no controller ran are closed too (their samples were stored), but never more than reportSize
 * of them: older ones would fall out of the ring at once. Runs in one transaction that also
 * moves nextConsolidationAt, so a crash either did all of it or none, and the unique
 * (report, startDate) index makes a datapoint impossible to write twice.
 */
export async function consolidateReport(db: Db, reportId: number, at = now()): Promise<ConsolidationResult | undefined> {
  return db.transaction(async (tx) => {
    const locked = rowsOf<{ ok: boolean }>(await tx.execute(sql`select pg_try_advisory_xact_lock(${CONSOLIDATION_LOCK}, ${reportId}) as ok`));
    if (!locked[0]?.ok) return undefined;
    const [report] = await tx.select().from(reports).where(eq(reports.id, reportId)).limit(1);
    if (!report || report.nextConsolidationAt.getTime() > at) return undefined;

    const d = report.datapointDurationS * 1000;
    let firstEnd = report.nextConsolidationAt.getTime();
    const due = Math.floor((at - firstEnd) / d) + 1;
    const skipped = Math.max(0, due - report.reportSize);
    firstEnd += skipped * d;
    const windows = due - skipped;
    const rangeStart = firstEnd - d;
    const rangeEnd = firstEnd + (windows - 1) * d;

    const inRange = and(
      eq(samples.reportId, report.id),
      eq(samples.consumed, false),
      gte(samples.timestamp, new Date(rangeStart)),
      lt(samples.timestamp, new Date(rangeEnd)),
    );
    const rows = await tx
      .select({ timestamp: samples.timestamp, data: samples.data })
      .from(samples)
      .where(inRange)
      .orderBy(asc(samples.timestamp), asc(samples.id));

    const byWindow: { timestamp: Date; data: unknown }[][] = Array.from({ length: windows }, () => []);
    for (const r of rows) byWindow[Math.floor((r.timestamp.getTime() - rangeStart) / d)]!.push(r);

    const values = byWindow.map((inWindow, i) => {
      const end = firstEnd + i * d;
      const enough = inWindow.length > 0 && inWindow.length >= report.minimumSampleSize;
      return {
        reportId: report.id,
        startDate: new Date(end - d),
        endDate: new Date(end),
        firstSampleDate: enough ? inWindow[0]!.timestamp : null,
        lastSampleDate: enough ? inWindow[inWindow.length - 1]!.timestamp : null,
        data: enough ? consolidate(report.consolidationFunction as ConsolidationFunction, inWindow.map((s) => s.data)) : null,
      };
    });
    // in chunks: one statement may carry at most 65,535 parameters
    for (let i = 0; i < values.length; i += 5000) await tx.insert(datapoints).values(values.slice(i, i + 5000)).onConflictDoNothing();

    // consumed samples go, unless the report keeps them; too few for a datapoint are discarded
    // (MWS 4.1.2) either way. Samples older than the windows closed here can never be consolidated.
    const tooFew = byWindow.some((w) => w.length > 0 && w.length < report.minimumSampleSize);
    if (report.keepSamples && !tooFew) {
      await tx.update(samples).set({ consumed: true }).where(inRange);
    } else if (report.keepSamples) {
      for (let i = 0; i < windows; i++) {
        const w = and(eq(samples.reportId, report.id), eq(samples.consumed, false), gte(samples.timestamp, new Date(rangeStart + i * d)), lt(samples.timestamp, new Date(rangeStart + (i + 1) * d)));
        const n = byWindow[i]!.length;
        if (n > 0 && n < report.minimumSampleSize) await tx.delete(samples).where(w);
        else if (n > 0) await tx.update(samples).set({ consumed: true }).where(w);
      }
    } else {
      await tx.delete(samples).where(and(eq(samples.reportId, report.id), eq(samples.consumed, false), lt(samples.timestamp, new Date(rangeEnd))));
    }

    await trimToReportSize(tx, report.id, report.reportSize);
    await tx
      .update(reports)
      .set({ nextConsolidationAt: new Date(rangeEnd + d), version: sql`${reports.version} + ${windows}` })
      .where(eq(reports.id, report.id));
    return { report: report.name, windows, samples: rows.length };
  });
}

/**
 * Consolidates every report whose window has ended, each in its own transaction. Returns what
 * was done. `stopping` is asked between reports: with a report per node, 10,000 nodes are
 * 10,000 transactions, more than a controller's stop may wait for; what is left stays due for
 * the next round or the next controller.
 */
export async function consolidateDueReports(db: Db, at = now(), stopping: () => boolean = () => false): Promise<ConsolidationResult[]> {
  const due = await db.select({ id: reports.id }).from(reports).where(lte(reports.nextConsolidationAt, new Date(at))).orderBy(asc(reports.nextConsolidationAt));
  const done: ConsolidationResult[] = [];
  for (const { id } of due) {
    if (stopping()) break;
    const r = await consolidateReport(db, id, at);
    if (r) done.push(r);
  }
  return done;
}

/**
 * Runs consolidations as windows end. Polls the stored schedule (so a report created by another
 * controller, or one left due by a restart, is picked up) and never overlaps itself.
 */
export function startConsolidator(db: Db, pollMs = 1000): () => Promise<void> {
  let stopped = false;
  let wake: () => void = () => {};
  const loop = (async () => {
    while (!stopped) {
      try {
        for (const r of await consolidateDueReports(db, now(), () => stopped)) log.debug("consolidated", { ...r });
      } catch (error) {
        log.warn("consolidation failed; will retry", { error });
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, pollMs);
      });
    }
  })();
  return async () => {
    stopped = true;
    wake();
    await loop;
  };
}

/** The type of a report row, re-exported for adapters. */
export type { Report };
