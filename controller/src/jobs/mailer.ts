import { eq, sql } from "drizzle-orm";
import { logger } from "@drover/shared/log";
import { invalid } from "@drover/shared/errors";
import type { Config } from "@drover/shared/config";
import type { Db } from "../db/connect.ts";
import { jobMail } from "../db/schema.ts";
import { rowsOf } from "../db/migrate.ts";
import { everyInterval } from "./rounds.ts";

const log = logger("mail");

/** The events a job may be mailed about (Moab's emailNotifyTypes; ALL is every one). */
export const MAIL_EVENTS = ["BEGIN", "END", "FAIL"] as const;

/** How long after a mail was due it is still tried. */
const GIVE_UP_AFTER_MS = 60 * 60_000;
/** A claimed mail is not claimed again for this long (another controller, or a crash). */
const LEASE_MS = 60_000;

/**
 * Checks what a submission asks to be mailed about: known events (ALL = every one), addresses
 * that look like addresses, and a mail server configured. Returns the events, ALL expanded.
 */
export function checkMailRequest(config: Config, events: string[] | undefined, to: string[] | undefined): { events: string[]; to: string[] } | undefined {
  const asked = [...new Set((events ?? []).map((e) => e.toUpperCase()))];
  if (!asked.length) return undefined;
  const unknown = asked.filter((e) => e !== "ALL" && !(MAIL_EVENTS as readonly string[]).includes(e));
  if (unknown.length) throw invalid(`emailNotifyTypes ${unknown.join(", ")}: drover mails about ${MAIL_EVENTS.join(", ")} (or ALL)`);
  const bad = (to ?? []).filter((a) => !/^[^\s@<>,;]+@[^\s@<>,;]+$/.test(a));
  if (bad.length) throw invalid(`emailNotifyUsers must be mail addresses, not ${bad.map((b) => JSON.stringify(b)).join(", ")}`);
  if (!to?.length) throw invalid("emailNotifyTypes needs emailNotifyUsers: the addresses to mail (drover knows no user's address)");
  if (!config.mail.smtpUrl) throw invalid("Mail is not configured on this drover (mail.smtpUrl): leave out emailNotifyTypes, or ask an administrator to set it");
  return { events: asked.includes("ALL") ? [...MAIL_EVENTS] : asked, to };
}

/**
 * Sends the mail jobs asked for (rows of job_mail, added by a trigger as jobs start and end)
 * through the configured SMTP server: retried with a doubling delay (2 s … 5 min) for an hour,
 * the last error kept; never in a transaction. Several controllers may run it: each mail is
 * claimed before it is sent.
 */
export function startMailer(db: Db, mail: Config["mail"], intervalMs = 1000): () => Promise<void> {
  // (the URL may hold a password: it is never logged)
  // (loaded here, only where mail is configured: the module costs a controller megabytes)
  const { createTransport } = require("nodemailer") as typeof import("nodemailer");
  const transport = createTransport(mail.smtpUrl);
  type Due = {
    id: number | string; job_id: number | string; event: string; recipients: unknown; attempts: number; created_at: string | Date;
    name: string | null; owner: string | null; state: string | null; exit_code: number | null; reason: string | null; node_id: string | null;
  };
  const round = async () => {
    const due = rowsOf<Due>(
      await db.execute(sql`
        with claimed as (
          update job_mail m set next_at = now() + ${`${LEASE_MS} milliseconds`}::interval, attempts = m.attempts + 1
          where m.id in (select id from job_mail where sent_at is null and given_up_at is null and next_at <= now() order by next_at limit 20 for update skip locked)
          returning m.id, m.job_id, m.event, m.recipients, m.attempts, m.created_at)
        select c.*, j.name, j.owner, j.state, j.exit_code, j.reason, j.node_id from claimed c left join jobs j on j.id = c.job_id`),
    );
    await Promise.all(due.map((d) => send(d)));
  };
  const send = async (d: Due) => {
    const id = Number(d.id);
    const jobId = Number(d.job_id);
    const what = { BEGIN: "started", END: "ended", FAIL: "failed" }[d.event] ?? d.event.toLowerCase();
    const lines = [
      `drover job ${jobId}${d.name ? ` (${d.name})` : ""} of ${d.owner ?? "?"} ${what}.`,
      "",
      `state: ${d.state ?? "(the job is gone)"}`,
      ...(d.node_id ? [`node: ${d.node_id}`] : []),
      ...(d.exit_code !== null && d.event !== "BEGIN" ? [`exit code: ${d.exit_code}`] : []),
      ...(d.reason && d.event !== "BEGIN" ? [`reason: ${d.reason}`] : []),
    ];
    let error = "";
    try {
      await transport.sendMail({
        from: mail.from,
        to: (d.recipients as string[]).join(", "),
        subject: `drover job ${jobId}${d.name ? ` (${d.name})` : ""} ${what}`,
        text: lines.join("\n") + "\n",
      });
    } catch (e) {
      error = (e as Error).message;
    }
    const now = Date.now();
    if (!error) {
      await db.update(jobMail).set({ sentAt: new Date(now), lastError: null }).where(eq(jobMail.id, id));
      return;
    }
    const giveUp = now - new Date(d.created_at).getTime() > GIVE_UP_AFTER_MS;
    const delay = Math.min(2000 * 2 ** (d.attempts - 1), 5 * 60_000);
    await db
      .update(jobMail)
      .set({ lastError: error.slice(0, 1000), ...(giveUp ? { givenUpAt: new Date(now) } : { nextAt: new Date(now + delay) }) })
      .where(eq(jobMail.id, id));
    log.warn("a job's mail was not sent", { job: jobId, event: d.event, attempt: d.attempts, giveUp, error: error.slice(0, 200) });
  };
  const stop = everyInterval(round, intervalMs, (error) => log.warn("mail round failed", { error }));
  return async () => {
    await stop();
    transport.close();
  };
}
