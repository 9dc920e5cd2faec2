import { eq } from "drizzle-orm";
import type { Sample } from "@drover/proto/service";
import { now } from "@drover/shared/clock";
import { nodes } from "../db/schema.ts";
import type { Tx } from "../jobs/job-events.ts";
import { feedNodeReport } from "../reports/node-reports.ts";

/**
 * Takes an agent's CPU and memory samples: the node's load, free memory, disk and swap are read from the
 * latest one, and they feed the node's report (reports/node-reports.ts).
 */
export async function recordNodeSamples(tx: Tx, nodeId: string, samples: Sample[]): Promise<void> {
  const latest = samples.reduce((a, b) => (b.timestampMs > a.timestampMs ? b : a));
  await tx
    .update(nodes)
    .set({
      cpuLoad: latest.load1,
      cpuUtilization: Number((latest.cpuTotal * 100).toFixed(2)),
      availableMemoryBytes: Number(latest.memoryTotalBytes - latest.memoryUsedBytes),
      // (an agent older than these fields sends 0: nothing is known then)
      availableDiskBytes: latest.diskFreeBytes ? Number(latest.diskFreeBytes) : null,
      availableSwapBytes: latest.diskFreeBytes ? Number(latest.swapFreeBytes) : null,
      networkBytesPerSecond: latest.networkBytesPerSecond,
      ioBytesPerSecond: latest.ioBytesPerSecond,
      lastHeartbeatAt: new Date(now()),
    })
    .where(eq(nodes.id, nodeId));
  await feedNodeReport(tx, nodeId, samples);
}
