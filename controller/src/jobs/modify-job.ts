import { and, eq, sql } from "drizzle-orm";
import { conflict, invalid } from "@drover/shared/errors";
import type { Principal } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import { jobs, type Job } from "../db/schema.ts";
import { appendMessage, holdJob } from "./control-job.ts";
import { getJob } from "./find-jobs.ts";
import { recordJobEvent } from "./job-events.ts";
import { isTerminal } from "./states.ts";

/** What a client may change on a job after submission (MWS 3.4.3.1). */
export interface JobChanges {
  name?: string;
  walltimeMs?: number;
  earliestStartAt?: Date;
  priority?: number;
  holds?: string[];
  /** appended; messages are never removed */
  messages?: string[];
  /** merged into the job's variables */
  variables?: Record<string, string>;
  flags?: string[];
}

/**
 * Changes a job's attributes in one transaction and says, per attribute, what was done.
 * Scheduling attributes (walltime, start date, priority) change only while the job is queued.
 */
export async function modifyJob(core: Core, principal: Principal, id: number, changes: JobChanges): Promise<string[]> {
  const job = await getJob(core.db, principal, id);
  if (isTerminal(job.state)) throw invalid(`Job ${id} has ended (${job.state}); it can no longer be modified`);
  const queuedOnly = (["walltimeMs", "earliestStartAt", "priority"] as const).filter((k) => changes[k] !== undefined);
  if (queuedOnly.length && job.state !== "queued") {
    const names = { walltimeMs: "durationRequested", earliestStartAt: "earliestStartDateRequested", priority: "userPriority" };
    throw invalid(`Job ${id} is ${job.state}; ${queuedOnly.map((k) => names[k]).join(", ")} can only be changed while it is queued`);
  }
  const done: string[] = [];
  const set: Partial<Record<keyof Job, unknown>> = {};
  if (changes.name !== undefined) (set.name = changes.name), done.push("Name modified successfully");
  if (changes.walltimeMs !== undefined) (set.walltimeMs = changes.walltimeMs), done.push("Duration modified successfully");
  if (changes.earliestStartAt !== undefined) (set.earliestStartAt = changes.earliestStartAt), done.push("Earliest start date modified successfully");
  // (the user's priority: the queue's and QoS's boost stays added to it)
  const boost = Number((job.extra as { priorityBoost?: number }).priorityBoost ?? 0);
  if (changes.priority !== undefined) (set.priority = changes.priority + boost), (set.extra = { ...job.extra, ...(boost ? { userPriority: changes.priority } : {}) }), done.push("User priority modified successfully");
  if (changes.variables !== undefined) (set.variables = { ...job.variables, ...changes.variables }), done.push("Variables modified successfully");
  if (changes.flags !== undefined) (set.flags = [...new Set(changes.flags)]), done.push("Flags modified successfully");
  if (changes.messages?.length) done.push("Messages modified successfully");
  const changed = Object.keys(set);
  const notes = [...(changes.messages ?? []), ...(changed.length ? [`modified by ${principal.username}: ${changed.join(", ")}`] : [])];

  if (notes.length) {
    await core.db.transaction(async (tx) => {
      const rows = await tx
        .update(jobs)
        .set({ ...(set as Partial<Job>), messages: notes.length ? appendMessage(...notes) : undefined })
        .where(and(eq(jobs.id, id), queuedOnly.length ? eq(jobs.state, "queued") : sql`true`))
        .returning({ id: jobs.id });
      if (!rows.length) throw conflict(`Job ${id} was dispatched meanwhile; look at it again`);
      await recordJobEvent(tx, id, "modified", { by: principal.username, fields: changed });
    });
  }
  if (changes.holds?.length) {
    await holdJob(core, principal, id, changes.holds);
    done.push("Holds modified successfully");
  }
  if (changes.earliestStartAt !== undefined || changes.priority !== undefined) core.kick();
  if (!done.length) throw invalid("Nothing to modify: give at least one of name, durationRequested, earliestStartDateRequested, userPriority, holds, messages, variables, flags");
  return done;
}
