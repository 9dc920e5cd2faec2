import type { NodeWithJobs } from "../../nodes/find-nodes.ts";
import { formatMwsDate } from "../conventions/dates.ts";
import { mwsJobId } from "./job-view.ts";

const MB = 1024 * 1024;

/** drover node state + load → Moab node state: Down, Drained, Idle, Running (partly used), Busy (full). */
export function mwsNodeState(n: Pick<NodeWithJobs, "state" | "usedCpus" | "cores">): string {
  if (n.state === "down") return "Down";
  if (n.state === "drained") return "Drained";
  if (n.usedCpus === 0) return "Idle";
  return n.usedCpus >= n.cores ? "Busy" : "Running";
}

/** Renders a node as MWS 3.6.1.2 shows it; sizes in MB as Moab reports them. */
export function mwsNodeView(n: NodeWithJobs) {
  const availableMemoryMb =
    n.availableMemoryBytes !== null
      ? Math.round(Math.min(n.availableMemoryBytes, n.memoryBytes - n.usedMemoryBytes) / MB)
      : Math.round((n.memoryBytes - n.usedMemoryBytes) / MB);
  return {
    id: n.id,
    state: mwsNodeState(n),
    blockReason: n.stateReason ?? "",
    architecture: n.arch,
    os: n.os,
    partition: n.partition,
    features: n.features,
    networkAddress: n.addresses[0] ?? "",
    aliases: n.hostname !== n.id ? [n.hostname] : [],
    totalProcessors: n.cores,
    availableProcessors: Math.max(0, n.cores - n.usedCpus),
    totalMemory: Math.round(n.memoryBytes / MB),
    availableMemory: Math.max(0, availableMemoryMb),
    totalSwap: Math.round(n.swapBytes / MB),
    totalDisk: Math.round(n.diskBytes / MB),
    cpuLoad: n.cpuLoad ?? 0,
    // what the node offers jobs: its GPUs ("gpu") and what its agent was given (--gres)
    genericResources: n.gres,
    jobs: n.jobIds.map((id) => ({ id: mwsJobId(id) })),
    lastUpdateDate: formatMwsDate(n.lastHeartbeatAt),
    variables: {},
    messages: [],
  };
}
