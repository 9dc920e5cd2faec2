import { sql, type SQL } from "drizzle-orm";
import { create, ControllerMessageSchema } from "@drover/proto/service";
import { invalid } from "@drover/shared/errors";
import type { Principal } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { rowsOf } from "../db/migrate.ts";
import { anyId, recordset } from "../db/recordset.ts";
import { recordJobEvents } from "./job-events.ts";

export const queueMoves = ["top", "up", "down", "bottom"] as const;
export type QueueMove = (typeof queueMoves)[number];

/** A waiting job's place: the queue is priority (highest first), then queue position (lowest first). */
interface Place {
  id: number;
  priority: number;
  position: number;
  state: string;
  nodeId: string | null;
  attempt: number;
}

/**
 * The new order of `list` (in queue order) with the `moved` jobs: top (ahead of every other),
 * bottom (behind every other), up or down (one place, past a job that is not moved itself;
 * moved jobs keep their order among themselves).
 */
export function reorder<T extends { id: number }>(list: T[], moved: Set<number>, direction: QueueMove): T[] {
  const isMoved = (j: T) => moved.has(j.id);
  if (direction === "top") return [...list.filter(isMoved), ...list.filter((j) => !isMoved(j))];
  if (direction === "bottom") return [...list.filter((j) => !isMoved(j)), ...list.filter(isMoved)];
  const out = [...list];
  if (direction === "up") {
    for (let i = 1; i < out.length; i++) if (isMoved(out[i]!) && !isMoved(out[i - 1]!)) [out[i - 1], out[i]] = [out[i]!, out[i - 1]!];
  } else {
    for (let i = out.length - 2; i >= 0; i--) if (isMoved(out[i]!) && !isMoved(out[i + 1]!)) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  }
  return out;
}

/**
 * Moves waiting jobs (queued, or sent to a node's backlog and not started) within the queue.
 * `among` says which waiting jobs the move is counted among (MDWorkbench: the launches); the
 * moved jobs take the places those jobs hold in the queue — each place a priority and a queue
 * position — so jobs outside `among` keep theirs. A job sent to a node's backlog whose place
 * changed is handed back by its agent and sent again in the new order. Non-admins may move
 * only their own jobs. Throws 400 naming any id that is not a waiting job among them.
 */
export async function moveInQueue(
  core: Core,
  principal: Principal,
  ids: number[],
  direction: QueueMove,
  among: SQL = sql`true`,
  /** what the moved jobs are called in messages (MDWorkbench: launch, launches) */
  called: { one: string; many: string } = { one: "job", many: "jobs" },
): Promise<void> {
  const recall = await core.db.transaction(async (tx) => {
    type Row = { id: number | string; priority: number; queue_position: number | string; state: string; node_id: string | null; attempt: number; owner: string };
    const rows = rowsOf<Row>(
      await tx.execute(sql`
        select id, priority, queue_position, state, node_id, attempt, owner from jobs
        where state in ('queued', 'dispatching') and (${among})
        order by priority desc, queue_position asc
        for update`),
    );
    const mine = (r: Row) => principal.role === "admin" || r.owner === principal.username;
    const list: Place[] = rows.filter(mine).map((r) => ({ id: Number(r.id), priority: r.priority, position: Number(r.queue_position), state: r.state, nodeId: r.node_id, attempt: r.attempt }));
    const known = new Set(list.map((p) => p.id));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length) throw invalid(`No waiting ${called.one} matches ${unknown.join(", ")}: only ${called.many} that have not started can be moved in the queue`);

    // the same places (list is in queue order), handed out in the new order
    const places = list.map((p) => ({ priority: p.priority, position: p.position }));
    const next = reorder(list, new Set(ids), direction);
    const changed = next.flatMap((p, i) => {
      const place = places[i]!;
      return place.priority === p.priority && place.position === p.position ? [] : [{ ...p, to: place }];
    });
    if (!changed.length) return [];
    await tx.execute(sql`
      update jobs j set priority = v.priority, queue_position = v.position
      from ${recordset(changed.map((c) => ({ id: c.id, priority: c.to.priority, position: c.to.position })), "id bigint, priority int, position bigint")}
      where j.id = v.id and ${anyId("j.id", changed.map((c) => c.id))}`);
    await recordJobEvents(
      tx,
      changed.filter((c) => ids.includes(c.id)).map((c) => ({ jobId: c.id, kind: "reordered", data: { direction, by: principal.username, priority: c.to.priority } })),
    );
    return changed.filter((c) => c.state === "dispatching" && c.nodeId);
  });
  // backlogged jobs whose place changed come back (the agent ignores one that started meanwhile)
  const byNode = new Map<string, { jobId: bigint; attempt: number }[]>();
  for (const c of recall) byNode.set(c.nodeId!, [...(byNode.get(c.nodeId!) ?? []), { jobId: BigInt(c.id), attempt: c.attempt }]);
  for (const [node, jobs] of byNode) core.links.send(node, create(ControllerMessageSchema, { body: { case: "returnJobs", value: { jobs } } }));
  core.kick();
}
