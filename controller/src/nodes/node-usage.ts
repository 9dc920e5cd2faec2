import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rowsOf } from "../db/migrate.ts";

/** Processors and memory taken on each node by jobs on nodes, from their allocations. */
export async function nodeUsage(tx: Pick<Db, "execute">, nodeIds?: string[]): Promise<Map<string, { cpus: number; memoryBytes: number; jobIds: number[] }>> {
  const rows = rowsOf<{ node: string; cpus: number | string; memory: number | string; ids: number[] | string }>(
    await tx.execute(sql`
      select a->>'node' as node, sum((a->>'cpus')::int) as cpus,
             sum(coalesce((a->>'memoryBytes')::bigint, j.memory_bytes)) as memory,
             jsonb_agg(j.id order by j.id) as ids
      from jobs j, jsonb_array_elements(j.allocated_nodes) a
      where j.state in ('dispatching', 'running', 'suspended')
      ${nodeIds ? sql`and a->>'node' in (${sql.join(nodeIds.length ? nodeIds.map((n) => sql`${n}`) : [sql`null`], sql`, `)})` : sql``}
      group by 1`),
  );
  return new Map(
    rows.map((r) => [r.node, { cpus: Number(r.cpus), memoryBytes: Number(r.memory), jobIds: (typeof r.ids === "string" ? JSON.parse(r.ids) : r.ids).map(Number) }]),
  );
}
