import { and, asc, count, eq, gt, isNull, lt, or, type SQL } from "drizzle-orm";
import { conflict, forbidden, invalid, notFound } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Principal } from "../auth/principal.ts";
import type { Db } from "../db/connect.ts";
import { datapoints, reports, samples, type Datapoint, type Report } from "../db/schema.ts";
import type { Tx } from "../jobs/job-events.ts";
import { consolidationFunctions, type ConsolidationFunction } from "./consolidate.ts";
import { firstConsolidationAfterHistory, trimToReportSize } from "./consolidator.ts";

/** A datapoint given at creation (MWS 3.10.3: "historical datapoints"). Dates in ms. */
export interface HistoricalDatapoint {
  startDate: number;
  endDate: number;
  firstSampleDate?: number | null;
  lastSampleDate?: number | null;
  data: unknown;
}

export interface ReportDefinition {
  name: string;
  description?: string | null;
  datapointDurationS: number;
  reportSize: number;
  minimumSampleSize?: number;
  keepSamples?: boolean;
  consolidationFunction?: string;
  datapoints?: HistoricalDatapoint[];
}

/** Limits that keep one report from filling the database by accident. */
export const REPORT_LIMITS = { maxReportSize: 100_000, maxDatapointDurationS: 366 * 24 * 3600, maxNameLength: 128 };

const reportName = /^[A-Za-z0-9_][A-Za-z0-9._:-]*$/;

/** Names drover gives the reports it feeds from agents; people cannot take them. */
export function isSystemReportName(name: string): boolean {
  return name === "cluster" || name.startsWith("node-");
}

function checkName(name: string, system: boolean): void {
  if (name.length === 0 || name.length > REPORT_LIMITS.maxNameLength || !reportName.test(name)) {
    throw invalid(`Invalid report field "name": "${name}" must be 1 to 128 letters, digits, or . _ : - (not starting with . : -)`);
  }
  if (/^\d+$/.test(name)) throw invalid(`Invalid report field "name": "${name}" is all digits, which would be read as a report id`);
  if (!system && isSystemReportName(name)) {
    throw invalid(`Invalid report field "name": "cluster" and names starting with "node-" are kept for the reports drover feeds from its agents`);
  }
}

function checkDefinition(def: ReportDefinition, system: boolean): ConsolidationFunction {
  checkName(def.name, system);
  const whole = (field: string, v: number | undefined, min: number, max: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
      throw invalid(`Invalid report field "${field}": ${v} must be a whole number from ${min} to ${max}`);
    }
  };
  whole("datapointDuration", def.datapointDurationS, 1, REPORT_LIMITS.maxDatapointDurationS);
  whole("reportSize", def.reportSize, 1, REPORT_LIMITS.maxReportSize);
  whole("minimumSampleSize", def.minimumSampleSize, 0, 1_000_000_000);
  const fn = def.consolidationFunction ?? "average";
  if (!(consolidationFunctions as readonly string[]).includes(fn)) {
    throw invalid(`Invalid report field "consolidationFunction": "${fn}" is not supported; use ${consolidationFunctions.map((f) => `"${f}"`).join(", ")}`);
  }
  (def.datapoints ?? []).forEach((d, i) => {
    if (d.endDate < d.startDate) throw invalid(`Invalid report field "datapoints.${i}": endDate is before startDate`);
    if (d.firstSampleDate != null && d.lastSampleDate != null && d.lastSampleDate < d.firstSampleDate) {
      throw invalid(`Invalid report field "datapoints.${i}": lastSampleDate is before firstSampleDate`);
    }
  });
  return fn as ConsolidationFunction;
}

/**
 * Creates a report and its historical datapoints in one transaction. The first consolidation is
 * due one datapointDuration after creation, or after the newest historical datapoint (MWS 4.2.3).
 */
export async function createReport(db: Db, owner: string | null, def: ReportDefinition): Promise<Report> {
  const fn = checkDefinition(def, owner === null);
  const createdAt = now();
  const durationMs = def.datapointDurationS * 1000;
  const history = [...(def.datapoints ?? [])].sort((a, b) => a.startDate - b.startDate);
  const next = history.length
    ? firstConsolidationAfterHistory(Math.max(...history.map((d) => d.endDate)), durationMs, createdAt)
    : createdAt + durationMs;
  return db.transaction(async (tx) => {
    const [existing] = await tx.select({ id: reports.id }).from(reports).where(eq(reports.name, def.name)).limit(1);
    if (existing) throw conflict(`A report named "${def.name}" already exists (id ${existing.id})`);
    const [row] = await tx
      .insert(reports)
      .values({
        name: def.name,
        description: def.description ?? null,
        datapointDurationS: def.datapointDurationS,
        reportSize: def.reportSize,
        minimumSampleSize: def.minimumSampleSize ?? 1,
        keepSamples: def.keepSamples ?? false,
        consolidationFunction: fn,
        owner,
        createdAt: new Date(createdAt),
        nextConsolidationAt: new Date(next),
      })
      .onConflictDoNothing({ target: reports.name })
      .returning();
    if (!row) throw conflict(`A report named "${def.name}" already exists`);
    if (history.length) {
      const rows = history.map((d) => ({
            reportId: row.id,
            startDate: new Date(d.startDate),
            endDate: new Date(d.endDate),
            firstSampleDate: d.firstSampleDate == null ? null : new Date(d.firstSampleDate),
            lastSampleDate: d.lastSampleDate == null ? null : new Date(d.lastSampleDate),
            data: d.data ?? null,
      }));
      for (let i = 0; i < rows.length; i += 5000) await tx.insert(datapoints).values(rows.slice(i, i + 5000)).onConflictDoNothing();
      await trimToReportSize(tx, row.id, row.reportSize);
    }
    return row;
  });
}

function visibleTo(principal: Principal): SQL | undefined {
  return principal.role === "admin" ? undefined : or(isNull(reports.owner), eq(reports.owner, principal.username));
}

/**
 * A report by id or by name (MWS allows either in the URL; names are never all digits, so a
 * number is an id). Another user's report is "not found".
 */
export async function findReport(db: Tx, principal: Principal, idOrName: string): Promise<Report> {
  const key = /^\d{1,9}$/.test(idOrName) ? eq(reports.id, Number(idOrName)) : eq(reports.name, idOrName);
  const [row] = await db.select().from(reports).where(and(key, visibleTo(principal))).limit(1);
  if (!row) throw notFound(`The report '${idOrName}' was not found`);
  return row;
}

/** The same, for changing it: system reports are changed by admins only. */
export async function findReportToChange(db: Tx, principal: Principal, idOrName: string): Promise<Report> {
  const row = await findReport(db, principal, idOrName);
  if (principal.role !== "admin" && row.owner !== principal.username) {
    throw forbidden(`The report '${row.name}' is fed by drover from its agents; only an administrator may change it`);
  }
  return row;
}

export async function listReports(db: Db, principal: Principal): Promise<Report[]> {
  return db.select().from(reports).where(visibleTo(principal)).orderBy(asc(reports.id));
}

/** Deletes a report with its samples and datapoints. */
export async function deleteReport(db: Db, principal: Principal, idOrName: string): Promise<Report> {
  return db.transaction(async (tx) => {
    const row = await findReportToChange(tx, principal, idOrName);
    await tx.delete(samples).where(eq(samples.reportId, row.id));
    await tx.delete(datapoints).where(eq(datapoints.reportId, row.id));
    await tx.delete(reports).where(eq(reports.id, row.id));
    return row;
  });
}

/** A time range over datapoints (drover's `from`/`to`): datapoints overlapping [from, to). */
export interface TimeRange {
  from?: number;
  to?: number;
}

/** A report's datapoints, oldest first, optionally only those overlapping a time range. */
export async function reportDatapoints(db: Db, reportId: number, range: TimeRange = {}): Promise<Datapoint[]> {
  const conditions: SQL[] = [eq(datapoints.reportId, reportId)];
  if (range.from !== undefined) conditions.push(gt(datapoints.endDate, new Date(range.from)));
  if (range.to !== undefined) conditions.push(lt(datapoints.startDate, new Date(range.to)));
  return db.select().from(datapoints).where(and(...conditions)).orderBy(asc(datapoints.startDate));
}

/** The samples stored for a report (waiting for consolidation, or kept by keepSamples), oldest first. */
export async function reportSamples(db: Db, reportId: number, page: { offset?: number; limit?: number } = {}) {
  let q = db.select().from(samples).where(eq(samples.reportId, reportId)).orderBy(asc(samples.timestamp), asc(samples.id)).$dynamic();
  if (page.limit !== undefined) q = q.limit(page.limit);
  if (page.offset) q = q.offset(page.offset);
  return q;
}

export async function countSamples(db: Db, reportId: number): Promise<number> {
  const [row] = await db.select({ n: count() }).from(samples).where(eq(samples.reportId, reportId));
  return Number(row?.n ?? 0);
}
