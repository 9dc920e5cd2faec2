import { and, eq, sql } from "drizzle-orm";
import { logger } from "@drover/shared/log";
import { invalid } from "@drover/shared/errors";
import type { Db } from "../db/connect.ts";
import { jobCallbacks } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import type { Tx } from "./job-events.ts";
import { everyInterval } from "./rounds.ts";

const log = logger("callbacks");

/** How long after a job's end its callback is still tried. */
const GIVE_UP_AFTER_MS = 60 * 60_000;
/** One attempt may take this long. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** A claimed callback is not claimed again for this long (another controller, or a crash). */
const LEASE_MS = 60_000;

/**
 * Checks a callback URL: http or https only, and (when the site restricts them, with
 * callbacks.hosts) to one of the allowed hosts. 400 naming what is wrong.
 */
export function checkCallbackUrl(text: string, allowedHosts: string[]): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`Status-Location "${text}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid(`Status-Location must be an http or https URL, not ${url.protocol}`);
  if (allowedHosts.length && !allowedHosts.includes(url.hostname)) throw invalid(`Status-Location may only name the hosts ${allowedHosts.join(", ")} (callbacks.hosts), not ${url.hostname}`);
  return url.toString();
}

/** Records that a job's end is to be posted to a URL (in the transaction that creates the job). */
export async function addCallbacks(tx: Tx, rows: { jobId: number; url: string }[]): Promise<void> {
  if (rows.length) await tx.insert(jobCallbacks).values(rows.map((r) => ({ jobId: r.jobId, url: r.url }))).onConflictDoNothing();
}

/** A job's callback and what its attempts did, if it has one. */
export async function callbackOf(db: Db, jobId: number) {
  const [row] = await db.select().from(jobCallbacks).where(eq(jobCallbacks.jobId, jobId));
  return row;
}

/** What a callback posts: the job's view, rendered by the dialect that took it. */
export type CallbackRenderer = (jobId: number) => Promise<{ body: string; contentType: string }>;

/**
 * Posts each ended job's view to its callback URL: retried with a doubling delay (2 s … 5 min)
 * for an hour after the job ended, each attempt recorded; never in a transaction and never in
 * the scheduler's way. Several controllers may run it: each callback is claimed before it is sent.
 */
export function startCallbackNotifier(db: Db, render: CallbackRenderer, intervalMs = 1000): () => Promise<void> {
  const round = async () => {
    type Due = { job_id: number | string; url: string; attempts: number; ended_at: string | Date | null };
    const due = rowsOf<Due>(
      await db.execute(sql`
        update job_callbacks c set next_at = now() + ${`${LEASE_MS} milliseconds`}::interval
        from jobs j
        where j.id = c.job_id and c.job_id in (
          select c2.job_id from job_callbacks c2 join jobs j2 on j2.id = c2.job_id
          where c2.delivered_at is null and c2.given_up_at is null and c2.next_at <= now()
            and j2.state in ('completed', 'failed', 'cancelled', 'lost')
          order by c2.next_at limit 20 for update of c2 skip locked)
        returning c.job_id, c.url, c.attempts, j.ended_at`),
    );
    await Promise.all(due.map((d) => attempt(Number(d.job_id), d.url, d.attempts, d.ended_at ? new Date(d.ended_at) : new Date())));
  };
  const attempt = async (jobId: number, url: string, attempts: number, endedAt: Date) => {
    let ok = false;
    let message: string;
    try {
      const { body, contentType } = await render(jobId);
      const res = await fetch(url, { method: "POST", body, headers: { "content-type": contentType }, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
      ok = res.status >= 200 && res.status < 300;
      message = ok ? `status posted to ${url}` : `posting the status to ${url} was answered ${res.status}`;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      message = `posting the status to ${url} failed: ${(e as Error).message}`;
    }
    const now = Date.now();
    const entry = { time: new Date(now).toISOString(), ok, message };
    const giveUp = !ok && now - endedAt.getTime() > GIVE_UP_AFTER_MS;
    const delay = Math.min(2000 * 2 ** attempts, 5 * 60_000);
    await db
      .update(jobCallbacks)
      .set({
        attempts: attempts + 1,
        log: sql`${jobCallbacks.log} || ${JSON.stringify([entry])}::jsonb`,
        ...(ok ? { deliveredAt: new Date(now) } : giveUp ? { givenUpAt: new Date(now) } : { nextAt: new Date(now + delay) }),
      })
      .where(and(eq(jobCallbacks.jobId, jobId)));
    if (!ok) log.warn("a callback was not delivered", { job: jobId, url, attempt: attempts + 1, giveUp });
  };
  return everyInterval(round, intervalMs, (error) => log.warn("callback round failed", { error }));
}
