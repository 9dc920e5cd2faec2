import { count, eq, inArray, sql } from "drizzle-orm";
import type { Sample } from "@drover/proto/service";
import { now } from "@drover/shared/clock";
import { DroverError } from "@drover/shared/errors";
import { logger } from "@drover/shared/log";
import type { Config } from "@drover/shared/config";
import type { Db } from "../db/connect.ts";
import { rowsOf } from "../db/migrate.ts";
import { jobs, nodes, reports } from "../db/schema.ts";
import type { Tx } from "../jobs/job-events.ts";
import { createReport } from "./reports.ts";
import { addSamples } from "./samples.ts";

const log = logger("reports");

// Arbitrary constant: one controller at a time writes the cluster-wide sample.
const CLUSTER_SAMPLE_LOCK = 7_070_006;

export const CLUSTER_REPORT = "cluster";
export const nodeReportName = (nodeId: string) => `node-${nodeId}`;

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

async function ensureReport(db: Db, config: Config, name: string, description: string): Promise<void> {
  const [existing] = await db.select({ id: reports.id }).from(reports).where(eq(reports.name, name)).limit(1);
  if (existing) return;
  try {
    await createReport(db, null, {
      name,
      description,
      datapointDurationS: Math.max(1, Math.round(config.reports.nodeDatapointDurationMs / 1000)),
      reportSize: config.reports.nodeReportSize,
      minimumSampleSize: 1,
      keepSamples: false,
    });
  } catch (e) {
    // another controller created it first
    if (!(e instanceof DroverError && e.kind === "conflict")) throw e;
  }
}

/**
 * Creates, on a node's first registration, the report its samples feed and the cluster-wide
 * report. Both are ordinary MWS reports (reportSize and datapointDuration from
 * reports.nodeReportSize and reports.nodeDatapointDurationMs).
 */
export async function ensureNodeReports(db: Db, config: Config, nodeId: string): Promise<void> {
  await ensureReport(db, config, nodeReportName(nodeId), `CPU, memory and load of node ${nodeId}, sampled by its agent`);
  await ensureReport(db, config, CLUSTER_REPORT, "Nodes, processors, memory and jobs of the whole cluster, sampled by the controller");
}

/**
 * What an agent's sample becomes in the node's report. Per-core figures are an object (cpu0,
 * cpu1, …) rather than a list, because consolidation averages objects field by field but
 * concatenates lists.
 */
export function nodeSampleData(s: Sample) {
  return {
    cpuUtilization: round(s.cpuTotal * 100),
    cpuPerCore: Object.fromEntries(s.cpuPerCore.map((c, i) => [`cpu${i}`, round(c * 100)])),
    memory: { usedBytes: Number(s.memoryUsedBytes), totalBytes: Number(s.memoryTotalBytes) },
    load: { minutes1: s.load1, minutes5: s.load5, minutes15: s.load15 },
  };
}


/** The cluster as a whole, right now, from the nodes' latest samples and the jobs table. */
export async function clusterSampleData(db: Tx) {
  const nodeRows = await db.select().from(nodes);
  const up = nodeRows.filter((n) => n.state === "up");
  const [running] = await db.select({ n: count() }).from(jobs).where(inArray(jobs.state, ["running", "suspended"]));
  // sent to a node and not started yet (some wait in a busy node's backlog)
  const [starting] = await db.select({ n: count() }).from(jobs).where(eq(jobs.state, "dispatching"));
  const [queued] = await db.select({ n: count() }).from(jobs).where(eq(jobs.state, "queued"));
  const allocated = rowsOf<{ cpus: string | number | null }>(
    await db.execute(sql`select coalesce(sum(cpus), 0) as cpus from jobs where state in ('dispatching', 'running', 'suspended')`),
  )[0]?.cpus;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const withCpu = up.filter((n) => n.cpuUtilization !== null);
  const totalMemory = sum(up.map((n) => n.memoryBytes));
  return {
    nodes: { up: up.length, down: nodeRows.filter((n) => n.state === "down").length, drained: nodeRows.filter((n) => n.state === "drained").length },
    // backlogged jobs are promised processors beyond a node's count: allocated never exceeds the total
    processors: { total: sum(up.map((n) => n.cores)), allocated: Math.min(sum(up.map((n) => n.cores)), Number(allocated ?? 0)) },
    cpuUtilization: withCpu.length ? round(sum(withCpu.map((n) => n.cpuUtilization!)) / withCpu.length) : null,
    memory: { totalBytes: totalMemory, usedBytes: sum(up.map((n) => n.memoryBytes - (n.availableMemoryBytes ?? n.memoryBytes))) },
    jobs: { running: Number(running?.n ?? 0), starting: Number(starting?.n ?? 0), queued: Number(queued?.n ?? 0) },
  };
}

/**
 * Writes one cluster-wide sample unless another controller wrote one less than half an interval
 * ago (several controllers may share the database). Returns whether it wrote.
 */
export async function sampleCluster(db: Db, intervalMs: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const locked = rowsOf<{ ok: boolean }>(await tx.execute(sql`select pg_try_advisory_xact_lock(${CLUSTER_SAMPLE_LOCK}) as ok`));
    if (!locked[0]?.ok) return false;
    const [report] = await tx.select().from(reports).where(eq(reports.name, CLUSTER_REPORT)).limit(1);
    if (!report) return false;
    const at = now();
    const recent = rowsOf<{ n: number | string }>(
      await tx.execute(sql`select count(*) as n from samples where report_id = ${report.id} and timestamp > ${new Date(at - intervalMs / 2).toISOString()}::timestamptz`),
    );
    if (Number(recent[0]?.n ?? 0) > 0) return false;
    await addSamples(tx, report, [{ timestamp: at, agent: "controller", data: await clusterSampleData(tx) }]);
    return true;
  });
}

/** Samples the cluster every nodes.sampleIntervalMs. */
export function startClusterSampler(db: Db, intervalMs: number): () => void {
  const timer = setInterval(() => {
    sampleCluster(db, intervalMs).catch((error) => log.warn("cluster sample failed", { error }));
  }, intervalMs);
  return () => clearInterval(timer);
}
