import type { NodeWithJobs } from "../../nodes/find-nodes.ts";
import type { Reservation } from "../../db/schema.ts";
import { formatMwsDate } from "../conventions/dates.ts";
import { mwsJobId } from "./job-view.ts";

const MB = 1024 * 1024;

/** drover node state + load → Moab node state: Down, Drained, Idle, Running (partly used), Busy (full). */
export function mwsNodeState(n: Pick<NodeWithJobs, "state" | "usedCpus" | "cores">): string {
  if (n.state === "down") return "Down";
  if (n.state === "drained") return n.usedCpus > 0 ? "Draining" : "Drained";
  if (n.usedCpus === 0) return "Idle";
  return n.usedCpus >= n.cores ? "Busy" : "Running";
}

/** What the view needs beside the node: the reservations on it, the queues that feed it, its time with jobs. */
export interface NodeContext {
  reservations: Reservation[];
  classes: string[];
  activeSeconds: number;
}

const mbOr = (bytes: number | null) => (bytes === null ? -1 : Math.round(bytes / MB));
const seconds = (ms: number) => Math.round(ms / 1000);

/**
 * Renders a node as MWS 3.6.1.2 shows it (all its fields); sizes in MB as Moab reports them.
 * What drover does not know of a node (rack, slot, speed, power policy, VMs) is Moab's "none":
 * 0, "", null or empty, as in the seed's sample.
 */
export function mwsNodeView(n: NodeWithJobs, c: NodeContext = { reservations: [], classes: [], activeSeconds: 0 }) {
  const at = Date.now();
  const availableMemoryMb =
    n.availableMemoryBytes !== null
      ? Math.round(Math.min(n.availableMemoryBytes, n.memoryBytes - n.usedMemoryBytes) / MB)
      : Math.round((n.memoryBytes - n.usedMemoryBytes) / MB);
  const upMs = n.upMs + (n.upSince ? Math.max(0, at - n.upSince.getTime()) : 0);
  const mine = c.reservations.filter((r) => r.holds.some((h) => h.node === n.id));
  const availableGres = Object.fromEntries(Object.entries(n.gres).map(([k, v]) => [k, Math.max(0, v - (n.usedGres[k] ?? 0))]));
  return {
    accessPolicy: "SHARED",
    aliases: n.hostname !== n.id ? [n.hostname] : [],
    architecture: n.arch,
    availableClasses: n.state === "up" ? c.classes : [],
    availableDisk: mbOr(n.availableDiskBytes),
    availableEndDate: null,
    availableGenericResources: availableGres,
    availableMemory: Math.max(0, availableMemoryMb),
    availableProcessors: Math.max(0, n.cores - n.usedCpus),
    availableStartDate: null,
    availableSwap: mbOr(n.availableSwapBytes),
    blockReason: n.stateReason ?? "",
    comments: "",
    configuredClasses: c.classes,
    cpuLoad: n.cpuLoad ?? 0,
    dynamic: false,
    externalLoad: 0,
    features: n.features,
    flags: ["RM_DETECTED"],
    genericEvents: n.genericEvents,
    genericMetrics: n.genericMetrics,
    // what the node offers jobs: its GPUs ("gpu") and what its agent was given (--gres)
    genericResources: n.gres,
    hypervisorType: "",
    iOLoad: n.ioBytesPerSecond === null ? 0 : Math.round((n.ioBytesPerSecond / MB) * 100) / 100,
    id: n.id,
    index: -1,
    jobs: n.jobIds.map((id) => ({ id: mwsJobId(id) })),
    lastStateUpdateDate: formatMwsDate(n.stateChangedAt ?? n.registeredAt),
    lastUpdateDate: formatMwsDate(n.lastHeartbeatAt),
    maxIOIn: 0,
    maxIOLoad: 0,
    maxIOOut: 0,
    maxJob: 0,
    maxJobPerUser: 0,
    maxLoad: 0,
    maxPEPerJob: 0,
    maxPageIn: 0,
    maxPageOut: 0,
    maxProc: n.cores,
    maxProcPerClass: 0,
    messages: n.messages.map((m) => m.message),
    network: "",
    networkAddress: n.addresses[0] ?? "",
    networkLoad: n.networkBytesPerSecond === null ? 0 : Math.round((n.networkBytesPerSecond / MB) * 100) / 100,
    nextOS: "",
    operations: [],
    os: n.os,
    osList: n.os ? [n.os] : [],
    overcommit: null,
    partition: n.partition,
    power: n.state === "down" ? null : "ON",
    powerPolicy: null,
    powerSelected: null,
    priority: 0,
    priorityFunction: "",
    procSpeed: 0,
    profilingEnabled: true,
    rack: 0,
    reservationCount: mine.length,
    reservations: mine.map((r) => ({ id: r.id })),
    rmAccessList: "drover",
    size: 1,
    slot: 0,
    speed: 1,
    speedWeight: 1,
    state: mwsNodeState(n),
    substate: n.state === "drained" ? (n.usedCpus > 0 ? "Draining" : "Drained") : "",
    taskCount: n.usedCpus,
    totalActiveTime: c.activeSeconds,
    totalAvailableTime: seconds(upMs),
    totalDisk: Math.round(n.diskBytes / MB),
    totalMemory: Math.round(n.memoryBytes / MB),
    totalProcessors: n.cores,
    totalStatsTime: seconds(at - n.registeredAt.getTime()),
    totalSwap: Math.round(n.swapBytes / MB),
    totalUpTime: seconds(upMs),
    type: "Compute",
    variables: n.variables,
    version: 0,
    virtualMachines: [],
    vmOsList: [],
  };
}
