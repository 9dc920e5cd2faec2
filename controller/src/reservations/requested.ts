import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { forbidden, invalid } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import { reservations, users } from "../db/schema.ts";
import type { Tx } from "../jobs/job-events.ts";
import type { JobSpec } from "../jobs/job-spec.ts";
import { admission, describeAcl } from "./acl.ts";

/**
 * A submission's reservationRequested: the reservation must exist (a 400 naming it) and its ACL
 * must admit the job (a 403 with its rules): asking for it by id is what Moab's own
 * RESERVATION_ID rule grants, unless an administrator removed that rule.
 */
export async function checkReservationsRequested(tx: Tx, owner: string, specs: JobSpec[]): Promise<void> {
  const ids = [...new Set(specs.map((s) => s.reservationRequested).filter((r): r is string => !!r))];
  if (!ids.length) return;
  const [found, [user]] = await Promise.all([
    tx.select().from(reservations).where(and(inArray(reservations.id, ids), isNull(reservations.releasedAt), sql`(${reservations.endAt} is null or ${reservations.endAt} > ${new Date(now()).toISOString()}::timestamptz)`)),
    tx.select({ groups: users.groups }).from(users).where(eq(users.username, owner)).limit(1),
  ]);
  const byId = new Map(found.map((r) => [r.id, r]));
  for (const s of specs) {
    if (!s.reservationRequested) continue;
    const r = byId.get(s.reservationRequested);
    if (!r) throw invalid(`Reservation "${s.reservationRequested}" does not exist (or has ended or been released); see GET /rest/reservations; nothing was stored`);
    const subject = {
      owner, groups: user?.groups ?? [], account: s.account ?? null, qos: s.qos ?? null, queue: s.queue ?? null, templates: s.templates ?? [],
      walltimeMs: s.walltimeMs ?? null, reservationRequested: s.reservationRequested,
    };
    if (!admission(r, subject)) throw forbidden(`Reservation ${r.id} does not admit this job of ${owner} (its ACL: ${describeAcl(r.aclRules)}); nothing was stored`);
  }
}
