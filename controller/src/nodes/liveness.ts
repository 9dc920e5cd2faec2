import { and, eq, lt, or, sql } from "drizzle-orm";
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
 *
 * A node is judged by the controller that holds its stream, by what it heard itself: the
 * heartbeat stored in the database can lag behind a busy holder's writes by seconds, and
 * another controller reading it would take live nodes for lost. The leader judges the nodes
 * no live controller holds (their controller died, or they never came back).
 */
export async function checkLiveness(core: Core): Promise<string[]> {
  const timeout = core.config.nodes.heartbeatTimeoutMs;
  const cutoff = now() - timeout;
  if (core.startedAt > cutoff) return [];
  const leads = !core.leadership || core.leadership.isLeader();
  // nodes up, and drained ones that still hold jobs, silent since the cutoff (a non-leader: its own)
  const holdsJobs = sql`exists (select 1 from jobs where jobs.node_id = ${nodes.id} and jobs.state in ('dispatching','running','suspended'))`;
  const stale = await core.db
    .select({ id: nodes.id, holder: nodes.controllerId })
    .from(nodes)
    .where(
      and(
        lt(nodes.lastHeartbeatAt, new Date(cutoff)),
        leads ? undefined : eq(nodes.controllerId, core.controllerId),
        or(eq(nodes.state, "up"), and(eq(nodes.state, "drained"), holdsJobs)),
      ),
    );
  const lost = stale
    .filter((n) => n.holder === core.controllerId || !core.peers?.holdsElsewhere(n.holder))
    // (heard from here meanwhile, though not yet stored: alive)
    .map((n) => n.id)
    .filter((id) => !core.heartbeats?.heardSince(id, cutoff));
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
    // (every controller, for the nodes it holds; the leader for the others: see checkLiveness)
    if (busy) return;
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
