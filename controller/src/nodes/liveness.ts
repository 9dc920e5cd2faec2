import { and, eq, lt, sql } from "drizzle-orm";
import { now } from "@drover/shared/clock";
import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import { nodes } from "../db/schema.ts";
import { markNodeLost } from "./node-loss.ts";

const log = logger("nodes");

/**
 * Declares nodes down when they have not been heard from within the heartbeat timeout.
 * The deadline counts from the later of the last heartbeat and this controller's start, so
 * a controller restart gives every agent a full timeout to reconnect.
 */
export async function checkLiveness(core: Core): Promise<string[]> {
  const timeout = core.config.nodes.heartbeatTimeoutMs;
  const cutoff = now() - timeout;
  if (core.startedAt > cutoff) return [];
  const stale = await core.db
    .select({ id: nodes.id })
    .from(nodes)
    .where(and(eq(nodes.state, "up"), lt(nodes.lastHeartbeatAt, new Date(cutoff))));
  const staleDrained = await core.db
    .select({ id: nodes.id })
    .from(nodes)
    .where(and(eq(nodes.state, "drained"), lt(nodes.lastHeartbeatAt, new Date(cutoff)), sql`exists (select 1 from jobs where jobs.node_id = ${nodes.id} and jobs.state in ('dispatching','running','suspended'))`));
  // (heard from here meanwhile, though not yet stored: alive)
  const lost = [...stale, ...staleDrained].map((n) => n.id).filter((id) => !core.heartbeats?.heardSince(id, cutoff));
  for (const id of lost) {
    core.links.disconnect(id, "no heartbeat within the timeout"); // a silent but open stream
    await markNodeLost(core, id, `no heartbeat for ${Math.round(timeout / 1000)} s`);
  }
  return lost;
}

/** Runs checkLiveness on a timer; returns a stop function. */
export function watchLiveness(core: Core): () => void {
  const every = Math.max(100, Math.min(1000, core.config.nodes.heartbeatTimeoutMs / 4));
  let busy = false;
  const timer = setInterval(async () => {
    // (once for the cluster: by the controller that leads, see peers/leadership.ts)
    if (busy || (core.leadership && !core.leadership.isLeader())) return;
    busy = true;
    try {
      await checkLiveness(core);
    } catch (e) {
      log.error("liveness check failed", { error: e });
    } finally {
      busy = false;
    }
  }, every);
  return () => clearInterval(timer);
}
