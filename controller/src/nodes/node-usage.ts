import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rowsOf } from "../db/migrate.ts";

/** Processors and memory taken on each node by jobs on nodes, from their allocations. */
export async function nodeUsage(tx: Pick<Db, "execute">, nodeIds?: string[]): Promise<Map<string, { cpus: number; memoryBytes: number; jobIds: number[]; gres: Record<string, number> }>> {
  const rows = rowsOf<{ node: string; cpus: number | string; memory: number | string; ids: number[] | string; gres: unknown }>(
    await tx.execute(sql`
      select a->>'node' as node, sum((a->>'cpus')::int) as cpus,
             sum(coalesce((a->>'memoryBytes')::bigint, j.memory_bytes)) as memory,
             jsonb_agg(j.id order by j.id) as ids,
             coalesce(jsonb_agg(j.gres) filter (where j.gres <> '{}'::jsonb), '[]'::jsonb) as gres
      from jobs j, jsonb_array_elements(j.allocated_nodes) a
      where j.state in ('dispatching', 'running', 'suspended')
      ${nodeIds ? sql`and a->>'node' in (${sql.join(nodeIds.length ? nodeIds.map((n) => sql`${n}`) : [sql`null`], sql`, `)})` : sql``}
      group by 1`),
  );
  return new Map(
    rows.map((r) => {
      const gres: Record<string, number> = {};
      for (const g of (typeof r.gres === "string" ? JSON.parse(r.gres) : r.gres) as Record<string, number>[]) for (const [k, v] of Object.entries(g)) gres[k] = (gres[k] ?? 0) + v;
      return [r.node, { cpus: Number(r.cpus), memoryBytes: Number(r.memory), jobIds: (typeof r.ids === "string" ? JSON.parse(r.ids) : r.ids).map(Number), gres }];
    }),
  );
}
