/** A node's capacity as the scheduler sees it during one pass. */
export interface NodeCapacity {
  id: string;
  freeCpus: number;
  freeMemoryBytes: number;
  features: string[];
}

export interface PlacementRequest {
  cpus: number;
  memoryBytes: number;
  hosts: string[];
  features: string[];
}

/**
 * Picks a node for a job, or says in words why none fits. Among fitting nodes the one with
 * the most free cpus wins, spreading load. Capacities are reduced in place when placed.
 */
export function place(job: PlacementRequest, nodes: NodeCapacity[]): { node: NodeCapacity } | { reason: string } {
  const eligible = nodes.filter(
    (n) => (job.hosts.length === 0 || job.hosts.includes(n.id)) && job.features.every((f) => n.features.includes(f)),
  );
  if (eligible.length === 0) {
    if (job.hosts.length) return { reason: `none of the requested hosts (${job.hosts.join(", ")}) is connected and up` };
    if (job.features.length) return { reason: `no connected node has the features ${job.features.join(", ")}` };
    return { reason: "no node is connected" };
  }
  let best: NodeCapacity | undefined;
  for (const n of eligible) {
    if (n.freeCpus >= job.cpus && n.freeMemoryBytes >= job.memoryBytes && (!best || n.freeCpus > best.freeCpus)) best = n;
  }
  if (!best) {
    return { reason: `waiting for resources: no eligible node has ${job.cpus} free cpus and ${job.memoryBytes} bytes of free memory` };
  }
  best.freeCpus -= job.cpus;
  best.freeMemoryBytes -= job.memoryBytes;
  return { node: best };
}
