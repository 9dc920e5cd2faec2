import { sql } from "drizzle-orm";
import type { Job } from "../db/schema.ts";

// Which dialect a job came from, as far as its row tells: a workflow's task instance is
// OpenMOLE's, an app's launch caesar's or MDWorkbench's (extra.dialect), a job with an identity
// or a requirements group wr's, anything else MWS's. One rule, in both of the forms it is used in.

export function dialectOf(job: Pick<Job, "workflow" | "app" | "extra" | "identity" | "reqGroup">): string {
  if (job.workflow) return "openmole";
  if (job.app) return typeof job.extra.dialect === "string" ? job.extra.dialect : "caesar";
  if (job.identity || job.reqGroup) return "wr";
  return "mws";
}

/** dialectOf as an SQL expression over the jobs table (for counts by dialect). */
export const DIALECT_SQL = sql.raw(`case
  when workflow is not null then 'openmole'
  when app is not null then coalesce(extra->>'dialect', 'caesar')
  when identity is not null or req_group <> '' then 'wr'
  else 'mws' end`);
