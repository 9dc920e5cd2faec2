import { sql } from "drizzle-orm";
import { recordset } from "../db/recordset.ts";
import type { Sample } from "@drover/proto/service";
import { now } from "@drover/shared/clock";
import type { Tx } from "../jobs/job-events.ts";
import { nodeReportName, nodeSampleData } from "../reports/node-reports.ts";

/**
 * The samples of many nodes in two statements (what a burst of the connected agents sent): each
 * node's figures from its latest sample, and every sample into its node's report. At 10,000
 * nodes sampling every 10 s, a node at a time was three statements a sample, more than one
 * database connection could take.
 */
export async function recordSamplesOfNodes(tx: Tx, items: { nodeId: string; samples: Sample[] }[]): Promise<void> {
  const withSamples = items.filter((i) => i.samples.length);
  if (!withSamples.length) return;
  const latest = new Map<string, Sample>();
  for (const { nodeId, samples } of withSamples) {
    for (const s of samples) {
      const was = latest.get(nodeId);
      if (!was || s.timestampMs > was.timestampMs) latest.set(nodeId, s);
    }
  }
  const figures = [...latest].map(([node, s]) => ({
    node,
    load: s.load1,
    util: Number((s.cpuTotal * 100).toFixed(2)),
    mem: Number(s.memoryTotalBytes - s.memoryUsedBytes),
    // (an agent older than these fields sends 0: nothing is known then)
    disk: s.diskFreeBytes ? Number(s.diskFreeBytes) : null,
    swap: s.diskFreeBytes ? Number(s.swapFreeBytes) : null,
    net: s.networkBytesPerSecond,
    io: s.ioBytesPerSecond,
  }));
  const at = new Date(now()).toISOString();
  // (rows locked in id order, as the heartbeat writer does: two writers of many nodes must not deadlock)
  await tx.execute(sql`
    with locked as (select id from nodes where id = any(${`{${figures.map((f) => JSON.stringify(f.node)).join(",")}}`}::text[]) order by id for update)
    update nodes n set cpu_load = v.load, cpu_utilization = v.util, available_memory_bytes = v.mem, available_disk_bytes = v.disk, available_swap_bytes = v.swap,
      network_bytes_per_second = v.net, io_bytes_per_second = v.io, last_heartbeat_at = greatest(n.last_heartbeat_at, ${at}::timestamptz)
    from ${recordset(figures, "node text, load float8, util float8, mem bigint, disk bigint, swap bigint, net float8, io float8")}
    where n.id = v.node and n.id in (select id from locked)`);
  const rows = withSamples.flatMap(({ nodeId, samples }) =>
    samples.map((s) => ({ report: nodeReportName(nodeId), t: new Date(Number(s.timestampMs)).toISOString(), a: nodeId, d: nodeSampleData(s) })),
  );
  // (a report an administrator deleted takes none: it comes back on the node's next registration)
  await tx.execute(sql`
    insert into samples (report_id, timestamp, agent, data)
    select r.id, v.t, v.a, v.d from ${recordset(rows, "report text, t timestamptz, a text, d jsonb")} join reports r on r.name = v.report`);
}
