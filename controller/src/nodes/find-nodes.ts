import { asc, eq, sql } from "drizzle-orm";
import { rowsOf } from "../db/migrate.ts";
import { nodeUsage } from "./node-usage.ts";
import { notFound } from "@drover/shared/errors";
import type { Db } from "../db/connect.ts";
import { nodes, type Node } from "../db/schema.ts";

/** A node with the jobs it holds and the resources they take. */
export interface NodeWithJobs extends Node {
  jobIds: number[];
  usedCpus: number;
  usedMemoryBytes: number;
  /** the generic resources its jobs hold */
  usedGres: Record<string, number>;
}

async function withJobs(db: Db, rows: Node[]): Promise<NodeWithJobs[]> {
  if (!rows.length) return [];
  const usage = await nodeUsage(db, rows.map((n) => n.id));
  return rows.map((n) => {
    const u = usage.get(n.id);
    return { ...n, jobIds: u?.jobIds ?? [], usedCpus: u?.cpus ?? 0, usedMemoryBytes: u?.memoryBytes ?? 0, usedGres: u?.gres ?? {} };
  });
}

/** Every node that ever registered, by name. */
export async function listNodes(db: Db): Promise<NodeWithJobs[]> {
  return withJobs(db, await db.select().from(nodes).orderBy(asc(nodes.id)));
}

/** One node, or 404. */
export async function getNode(db: Db, id: string): Promise<NodeWithJobs> {
  const rows = await db.select().from(nodes).where(eq(nodes.id, id)).limit(1);
  if (!rows.length) throw notFound(`The resource with id '${id}' was not found`);
  return (await withJobs(db, rows))[0]!;
}

/** Every node's host name and addresses, by node name (for views that show where a job ran). */
export async function nodeAddresses(db: Db): Promise<Map<string, Pick<Node, "hostname" | "addresses">>> {
  const rows = await db.select({ id: nodes.id, hostname: nodes.hostname, addresses: nodes.addresses }).from(nodes);
  return new Map(rows.map((n) => [n.id, n]));
}

/** Seconds each node has had a job running (as its master), from its jobs' runs, overlaps counted once (MWS totalActiveTime). */
export async function activeSeconds(db: Db, nodeId?: string): Promise<Map<string, number>> {
  const rows = rowsOf<{ node: string; secs: number | string | null }>(
    await db.execute(sql`
      select node, extract(epoch from sum(upper(r) - lower(r))) as secs from (
        select node_id as node, unnest(range_agg(tstzrange(started_at, coalesce(ended_at, now())))) as r
        from jobs where started_at is not null and node_id is not null ${nodeId === undefined ? sql`` : sql`and node_id = ${nodeId}`}
          and (ended_at is null or ended_at >= started_at)
        group by node_id) x
      group by node`),
  );
  return new Map(rows.map((r) => [r.node, Math.round(Number(r.secs ?? 0))]));
}
