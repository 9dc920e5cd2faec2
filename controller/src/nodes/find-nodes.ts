import { asc, eq, inArray } from "drizzle-orm";
import { notFound } from "@drover/shared/errors";
import type { Db } from "../db/connect.ts";
import { jobs, nodes, type Node } from "../db/schema.ts";

/** A node with the jobs it holds and the resources they take. */
export interface NodeWithJobs extends Node {
  jobIds: number[];
  usedCpus: number;
  usedMemoryBytes: number;
}

async function withJobs(db: Db, rows: Node[]): Promise<NodeWithJobs[]> {
  if (!rows.length) return [];
  const onNodes = await db
    .select({ id: jobs.id, nodeId: jobs.nodeId, cpus: jobs.cpus, mem: jobs.memoryBytes })
    .from(jobs)
    .where(inArray(jobs.state, ["dispatching", "running", "suspended"]))
    .orderBy(asc(jobs.id));
  return rows.map((n) => {
    const mine = onNodes.filter((j) => j.nodeId === n.id);
    return {
      ...n,
      jobIds: mine.map((j) => j.id),
      usedCpus: mine.reduce((s, j) => s + j.cpus, 0),
      usedMemoryBytes: mine.reduce((s, j) => s + j.mem, 0),
    };
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
