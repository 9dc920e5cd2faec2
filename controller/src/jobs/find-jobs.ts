import { and, asc, count, desc, eq, inArray, isNotNull, ne, or, type SQL } from "drizzle-orm";
import { notFound } from "@drover/shared/errors";
import type { Principal } from "../auth/principal.ts";
import type { Db } from "../db/connect.ts";
import { jobs, type Job } from "../db/schema.ts";
import type { JobState } from "./states.ts";

/** The job, if it exists and the principal may see it; another user's job is "not found". */
export async function getJob(db: Db, principal: Principal, id: number): Promise<Job> {
  const rows = Number.isSafeInteger(id) && id > 0 ? await db.select().from(jobs).where(eq(jobs.id, id)).limit(1) : [];
  const job = rows[0];
  if (!job || (principal.role !== "admin" && job.owner !== principal.username)) {
    throw notFound(`The resource with id '${id}' was not found`);
  }
  return job;
}

export interface JobFilter {
  states?: JobState[];
  group?: string;
}

function visibleTo(principal: Principal, filter: JobFilter): SQL | undefined {
  const conditions: SQL[] = [];
  if (principal.role !== "admin") conditions.push(eq(jobs.owner, principal.username));
  if (filter.states) conditions.push(inArray(jobs.state, filter.states));
  if (filter.group !== undefined) conditions.push(eq(jobs.group, filter.group));
  return conditions.length ? and(...conditions) : undefined;
}

/** The principal's jobs (all jobs for admins), oldest first, one page at a time. */
export async function listJobs(
  db: Db,
  principal: Principal,
  filter: JobFilter = {},
  page: { offset?: number; limit?: number } = {},
): Promise<Job[]> {
  if (page.offset) {
    // Skip in a subquery that reads only ids (an index-only scan), so that the rows skipped
    // by a deep offset are never fetched whole; then fetch the page's rows.
    let ids = db.select({ id: jobs.id }).from(jobs).where(visibleTo(principal, filter)).orderBy(asc(jobs.id)).$dynamic();
    if (page.limit !== undefined) ids = ids.limit(page.limit);
    ids = ids.offset(page.offset);
    return db.select().from(jobs).where(inArray(jobs.id, ids)).orderBy(asc(jobs.id));
  }
  let q = db.select().from(jobs).where(visibleTo(principal, filter)).orderBy(asc(jobs.id)).$dynamic();
  if (page.limit !== undefined) q = q.limit(page.limit);
  return q;
}

/** How many jobs listJobs would return without paging. */
export async function countJobs(db: Db, principal: Principal, filter: JobFilter = {}): Promise<number> {
  const [row] = await db.select({ n: count() }).from(jobs).where(visibleTo(principal, filter));
  return Number(row?.n ?? 0);
}

/**
 * Jobs as a queue's clients look them up (wr): by identity or group (complete ones included),
 * or, with neither, every job not complete. The principal's own (everyone's for admins), oldest first.
 */
export async function findQueueJobs(db: Db, principal: Principal, sel: { identities?: string[]; groups?: string[] }): Promise<Job[]> {
  const conditions: SQL[] = [];
  if (principal.role !== "admin") conditions.push(eq(jobs.owner, principal.username));
  const identities = sel.identities ?? [];
  const groups = sel.groups ?? [];
  if (identities.length || groups.length) {
    const either: SQL[] = [];
    if (identities.length) either.push(inArray(jobs.identity, identities));
    if (groups.length) either.push(inArray(jobs.group, groups));
    conditions.push(or(...either)!);
  } else {
    conditions.push(ne(jobs.state, "completed"));
  }
  return db.select().from(jobs).where(and(...conditions)).orderBy(asc(jobs.id));
}

/** The principal's jobs launched from apps (everyone's for admins), oldest first. */
export async function listAppJobs(db: Db, principal: Principal): Promise<Pick<Job, "id">[]> {
  const conditions: SQL[] = [isNotNull(jobs.app)];
  if (principal.role !== "admin") conditions.push(eq(jobs.owner, principal.username));
  return db.select({ id: jobs.id }).from(jobs).where(and(...conditions)).orderBy(asc(jobs.id));
}

/**
 * Jobs launched from apps that wait or run: the running ones first (by start), then the
 * waiting ones (queued, or in a node's backlog and not started) in queue order.
 */
export async function listAppQueue(db: Db, principal: Principal): Promise<Job[]> {
  const conditions: SQL[] = [isNotNull(jobs.app), inArray(jobs.state, ["queued", "dispatching", "running", "suspended"])];
  if (principal.role !== "admin") conditions.push(eq(jobs.owner, principal.username));
  const rows = await db.select().from(jobs).where(and(...conditions)).orderBy(desc(jobs.priority), asc(jobs.queuePosition));
  const waiting = (j: Job) => j.state === "queued" || j.state === "dispatching";
  const running = rows.filter((j) => !waiting(j)).sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0) || a.id - b.id);
  return [...running, ...rows.filter(waiting)];
}
