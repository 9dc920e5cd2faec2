import { sql } from "drizzle-orm";
import { jsonValue, rowsOf } from "../db/migrate.ts";
import type { Tx } from "../jobs/job-events.ts";
import type { AclSubject } from "./acl.ts";
import { now } from "@drover/shared/clock";
import { expectedEnd } from "../scheduler/queue-reads.ts";

/** A job on nodes (dispatched, running, suspended): what it holds where, until when, and what ACL rules see of it. */
export interface JobOnNode extends AclSubject {
  id: number;
  allocation: { node: string; cpus: number; memoryBytes: number }[];
  gres: Record<string, number>;
  /** start (or now) + walltime + time suspended; null: unknown (no walltime, or suspended now) */
  endsAt: number | null;
}

/** Every job on nodes now, with its owner's groups. */
export async function jobsOnNodes(tx: Tx): Promise<JobOnNode[]> {
  type Row = {
    id: number | string; allocated_nodes: unknown; gres: unknown; ends_at: number | string | null; owner: string; groups: unknown; account: string | null; qos: string | null; queue: string | null;
    templates: unknown; walltime_ms: number | string | null; reservation_requested: string | null;
  };
  const rows = rowsOf<Row>(await tx.execute(sql`
    select j.id, j.allocated_nodes, j.gres, j.owner, coalesce(u.groups, '[]'::jsonb) as groups, j.account, j.qos, j.queue,
           coalesce(j.extra->'templateList', '[]'::jsonb) as templates, j.walltime_ms, j.reservation_requested,
           ${expectedEnd(new Date(now()).toISOString())} as ends_at
    from jobs j left join users u on u.username = j.owner
    where j.state in ('dispatching', 'running', 'suspended')`));
  return rows.map((r) => ({
    id: Number(r.id),
    allocation: jsonValue<{ node: string; cpus: number; memoryBytes?: number }[]>(r.allocated_nodes).map((a) => ({ node: a.node, cpus: a.cpus, memoryBytes: a.memoryBytes ?? 0 })),
    gres: jsonValue<Record<string, number>>(r.gres),
    endsAt: r.ends_at === null ? null : Number(r.ends_at),
    owner: r.owner,
    groups: jsonValue<string[]>(r.groups),
    account: r.account,
    qos: r.qos,
    queue: r.queue,
    templates: jsonValue<string[]>(r.templates),
    walltimeMs: r.walltime_ms === null ? null : Number(r.walltime_ms),
    reservationRequested: r.reservation_requested,
  }));
}
