import { and, eq, isNull, sql } from "drizzle-orm";
import { logger } from "@drover/shared/log";
import { now } from "@drover/shared/clock";
import type { Core } from "../core.ts";
import { nodes, reservations } from "../db/schema.ts";
import { everyInterval } from "../jobs/rounds.ts";
import { rowsOf } from "../db/migrate.ts";
import { createReservation, moveOffNodes, requestOf } from "./reservations.ts";
import { signatureOf, standingRequest, standingWindows, type StandingCatalogue } from "./standing.ts";

const log = logger("reservations");

/**
 * What keeps reservations true as time goes by: a SINGLEUSE one is released once its job has
 * ended; a SPACEFLEX one moves off nodes that went down or were drained; standing reservations
 * are materialised for their next periods (and those not begun made anew when their definition
 * changes). Returns whether anything changed (the scheduler is then asked for a pass).
 */
export async function reservationUpkeep(core: Core, standing?: StandingCatalogue, failed = new Set<string>()): Promise<boolean> {
  const { db } = core;
  const at = now();
  let changed = false;
  const released = await db.execute(sql`
    update reservations r set released_at = now()
    where r.released_at is null and r.used_by_job is not null and r.flags ? 'SINGLEUSE'
      and exists (select 1 from jobs j where j.id = r.used_by_job and j.state not in ('queued', 'dispatching', 'running', 'suspended'))
    returning r.id`);
  if (rowsOf(released).length) changed = true;

  // SPACEFLEX: off nodes that are not up any more
  const flexible = await db.select().from(reservations).where(and(isNull(reservations.releasedAt), sql`${reservations.flags} ? 'SPACEFLEX'`, sql`(${reservations.endAt} is null or ${reservations.endAt} > now())`));
  if (flexible.length) {
    const up = new Set((await db.select({ id: nodes.id }).from(nodes).where(eq(nodes.state, "up"))).map((n) => n.id));
    for (const r of flexible) {
      const gone = new Set(r.holds.filter((h) => !up.has(h.node)).map((h) => h.node));
      if (!gone.size || r.hostListExpression) continue;
      const moved = await db.transaction((tx) => moveOffNodes(tx, r, gone, requestOf(r)));
      if (moved) {
        log.info("SPACEFLEX reservation moved off nodes that are not up", { reservation: r.id, nodes: [...gone].join(",") });
        changed = true;
      }
    }
  }

  if (standing) {
    const defs = standing.current();
    // (those whose windows could still be asked for: made within the last week and a day, not the whole history)
    const mine = await db.select().from(reservations).where(sql`${reservations.standing} is not null and ${reservations.startAt} > now() - interval '8 days'`);
    // not begun and no longer what the definition says (or no longer defined): released
    for (const r of mine) {
      if (r.releasedAt || r.startAt.getTime() <= at) continue;
      const def = defs.get(r.standing!);
      if (!def || def.disabled || r.standingSignature !== signatureOf(def)) {
        await db.update(reservations).set({ releasedAt: new Date(at) }).where(eq(reservations.id, r.id));
        changed = true;
      }
    }
    for (const def of defs.values()) {
      if (def.disabled) continue;
      const signature = signatureOf(def);
      for (const w of standingWindows(def, at)) {
        // made once per window and definition (a released one is not made again)
        const made = mine.some((r) => r.standing === def.id && r.startAt.getTime() === w.startAt && (r.standingSignature === signature || (r.releasedAt && r.startAt.getTime() <= at)));
        if (made) continue;
        const key = `${def.id}@${w.startAt}@${signature}`;
        try {
          const r = await createReservation(db, standingRequest(def, w), "standing");
          log.info("standing reservation materialised", { standing: def.id, reservation: r.id, start: new Date(w.startAt).toISOString() });
          failed.delete(key);
          changed = true;
        } catch (e) {
          if (!failed.has(key)) log.warn("a standing reservation's window could not be reserved yet; tried again on every round", { standing: def.id, start: new Date(w.startAt).toISOString(), error: (e as Error).message });
          failed.add(key);
        }
      }
    }
  }
  if (changed) core.kick();
  return changed;
}

/** Runs the upkeep every `intervalMs`; returns the stop. */
export function startReservationUpkeep(core: Core, standing: StandingCatalogue, intervalMs = 2000): () => Promise<void> {
  const failed = new Set<string>();
  // (once for the cluster: by the controller that leads, see peers/leadership.ts)
  return everyInterval(async () => void (core.leadership && !core.leadership.isLeader() ? undefined : await reservationUpkeep(core, standing, failed)), intervalMs, (e) => log.error("reservation upkeep failed", { error: e }));
}
