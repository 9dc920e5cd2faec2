import { eq, sql } from "drizzle-orm";
import type { Register } from "@drover/proto/service";
import { now } from "@drover/shared/clock";
import type { Db } from "../db/connect.ts";
import { nodes, type Node } from "../db/schema.ts";

const nodeName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A node name is what agents call themselves; it becomes an id in URLs, so it is restricted. */
export function checkNodeName(name: string): string | undefined {
  return nodeName.test(name) ? undefined : `node name "${name}" must be letters, digits, . _ - (at most 128)`;
}

/** Stores (or refreshes) what an agent says about its node and marks it up. */
export async function registerNode(db: Db, reg: Register, controllerId: string): Promise<Node> {
  const values = {
    id: reg.nodeName,
    hostname: reg.hostname,
    addresses: reg.addresses,
    cores: reg.cores,
    memoryBytes: Number(reg.memoryBytes),
    swapBytes: Number(reg.swapBytes),
    diskBytes: Number(reg.diskBytes),
    gpus: reg.gpus.map((g) => ({ model: g.model, memoryBytes: Number(g.memoryBytes) })),
    os: reg.os,
    arch: reg.arch,
    features: reg.features,
    gres: Object.fromEntries(Object.entries(reg.gres).filter(([k, v]) => /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(k) && v > 0)),
    partition: reg.partition || "default",
    agentVersion: reg.agentVersion,
    lastHeartbeatAt: new Date(now()),
    controllerId,
  };
  const [row] = await db
    .insert(nodes)
    .values({ ...values, state: "up", stateChangedAt: new Date(now()), upSince: new Date(now()) })
    // a drained node stays drained across reconnects; a down one comes back up below
    .onConflictDoUpdate({ target: nodes.id, set: { ...values, upSince: sql`coalesce(${nodes.upSince}, now())` } })
    .returning();
  if (row!.state === "down") {
    const [up] = await db.update(nodes).set({ state: "up", stateReason: null, stateChangedAt: new Date(now()) }).where(eq(nodes.id, reg.nodeName)).returning();
    return up!;
  }
  return row!;
}

/** Remembers the latest heartbeat, load and free memory of a node. */
export async function recordHeartbeat(db: Db, nodeId: string, figures: { cpuLoad?: number; availableMemoryBytes?: number } = {}): Promise<void> {
  await db
    .update(nodes)
    .set({ lastHeartbeatAt: new Date(now()), ...figures })
    .where(eq(nodes.id, nodeId));
}
