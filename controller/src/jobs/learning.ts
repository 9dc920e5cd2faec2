import { sql } from "drizzle-orm";
import { rowsOf } from "../db/migrate.ts";
import type { Tx } from "./job-events.ts";
import type { JobSpec } from "./job-spec.ts";

// Resource learning (wr's req_grp): jobs of one requirements group learn the memory and time
// their group's completed jobs really used, from the jobs table itself (the source of truth).

const MB = 1024 * 1024;
/** Learned memory is rounded up to this (as wr does), so one job's noise does not move it. */
const MEMORY_ROUND = 100 * MB;
const TIME_ROUND_MS = 1000;

export interface LearnedUsage {
  /** about the 95th percentile of the peak memory of the group's completed jobs */
  memoryBytes: number | null;
  /** likewise of their walltime */
  walltimeMs: number | null;
}

const roundUp = (v: number, step: number) => Math.ceil(v / step) * step;

/** What each of an owner's requirements groups learned from its completed jobs. */
export async function learnedUsage(tx: Pick<Tx, "execute">, owner: string, groups: string[]): Promise<Map<string, LearnedUsage>> {
  const learned = new Map<string, LearnedUsage>();
  if (!groups.length) return learned;
  type Row = { req_group: string; memory: number | string | null; walltime: number | string | null };
  const rows = rowsOf<Row>(
    await tx.execute(sql`
      select req_group,
             percentile_disc(0.95) within group (order by peak_rss_bytes) as memory,
             percentile_disc(0.95) within group (order by walltime_used_ms) as walltime
      from jobs
      where owner = ${owner} and state = 'completed' and req_group <> ''
        and req_group in (select jsonb_array_elements_text(${JSON.stringify(groups)}::jsonb))
      group by req_group`),
  );
  for (const r of rows) {
    const memory = r.memory === null ? 0 : roundUp(Number(r.memory), MEMORY_ROUND);
    const walltime = r.walltime === null ? 0 : roundUp(Number(r.walltime), TIME_ROUND_MS);
    // nothing measured (a job too short to be sampled) teaches nothing
    learned.set(r.req_group, { memoryBytes: memory > 0 ? memory : null, walltimeMs: walltime > 0 ? walltime : null });
  }
  return learned;
}

/**
 * The memory and walltime a job runs with, from what it asked for and what its group learned:
 * override 0 takes the learned value when there is one, 1 the larger of the two, 2 what was given.
 * Memory is compared for the whole job (a job of n processors asks n × memoryBytes).
 */
export function applyLearning(spec: JobSpec, learned: LearnedUsage | undefined): JobSpec {
  if (!learned || !spec.reqGroup) return spec;
  const override = spec.learnOverride ?? 0;
  const per = Math.max(spec.cpus ?? 1, 1);
  const choose = (given: number | undefined, learnedValue: number | null) => {
    if (learnedValue === null || override === 2) return given;
    if (override === 1 && given !== undefined) return Math.max(given, learnedValue);
    return learnedValue;
  };
  const givenMemory = spec.memoryBytes === undefined ? undefined : spec.memoryBytes * per;
  const memory = choose(givenMemory, learned.memoryBytes);
  const walltime = choose(spec.walltimeMs, learned.walltimeMs);
  return {
    ...spec,
    memoryBytes: memory === undefined ? undefined : Math.ceil(memory / per),
    walltimeMs: walltime,
    memoryGivenBytes: spec.memoryBytes,
    walltimeGivenMs: spec.walltimeMs,
  };
}

/**
 * How much memory a job that was stopped for using too much gets on its next run (wr's rule):
 * twice its peak (1.3 times above 8 GB), at least 1 GB more than the peak, rounded up to 100 MB;
 * never less than it had.
 */
export function memoryAfterMemoryKill(peakBytes: number, hadBytes: number): number {
  const raised = peakBytes <= 8192 * MB ? peakBytes * 2 : peakBytes * 1.3;
  return Math.max(hadBytes, roundUp(Math.max(raised, peakBytes + 1000 * MB), MEMORY_ROUND));
}
