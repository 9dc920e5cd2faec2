import { relative } from "node:path";
import type { Job, JobBehaviour, Node } from "../../db/schema.ts";
import { wrJobKey } from "./job-key.ts";
import type { WrExtra } from "./job-input.ts";
import { wrFailReason, wrJobState, type WrState } from "./job-states.ts";

/** Go's zero time in Unix seconds: wr's Started and Ended before they happen. */
export const GO_ZERO_TIME = -62135596800;

const MB = 1024 * 1024;
const unix = (d: Date | null) => (d ? Math.floor(d.getTime() / 1000) : GO_ZERO_TIME);
const nullIfEmpty = (list: string[]) => (list.length ? list : null);

/** What a job view needs to know beside the job. */
export interface ViewContext {
  at: number;
  /** the nodes by name, for Host and HostIP */
  nodes: Map<string, Pick<Node, "hostname" | "addresses">>;
  /** the queued jobs still waiting for a dependency */
  waiting: Set<number>;
  std: boolean;
  env: boolean;
}

/** The wr view of a job's command: what was submitted through wr, or its argv as a command line. */
const cmdOf = (job: Job) => (job.extra as Partial<WrExtra>).cmd ?? job.argv.join(" ");

/** wr's Key: the identity drover gave the job, or one made the same way from its command. */
const wrKeyOf = (job: Job) => job.identity ?? wrJobKey({ cmd: cmdOf(job) });

const behaviourJson = (list: JobBehaviour[] | undefined) =>
  list?.map((b) => ("run" in b ? { run: b.run } : "cleanupAll" in b ? { cleanup_all: true } : { cleanup: true }));

/** Behaviours as wr shows them: a JSON string (empty when there are none). */
function behavioursText(job: Job): string {
  const b = job.behaviours;
  const shown: Record<string, unknown> = {};
  if (b.onFailure?.length) shown.on_failure = behaviourJson(b.onFailure);
  if (b.onSuccess?.length) shown.on_success = behaviourJson(b.onSuccess);
  if (b.onExit?.length) shown.on_exit = behaviourJson(b.onExit);
  return Object.keys(shown).length ? JSON.stringify(shown) : "";
}

/** Renders a job as wr's JStatus, every property of the seed's table, in its order. */
export function wrJobView(job: Job, ctx: ViewContext, state: WrState = wrJobState(job, ctx.at, ctx.waiting.has(job.id))) {
  const extra = job.extra as Partial<WrExtra>;
  const cwdBase = extra.cwdBase ?? job.workingDirectory ?? "";
  const reserved = state === "reserved";
  const ran = job.startCount > 0 && !reserved && state !== "running";
  const running = state === "running";
  const node = job.nodeId ? ctx.nodes.get(job.nodeId) : undefined;
  const walltimeMs = running && job.startedAt
    ? ctx.at - job.startedAt.getTime() - job.suspendedMs
    : ran ? (job.walltimeUsedMs ?? 0) : 0;
  const failReason = wrFailReason(job, state);
  const failed = ran && (state === "buried" || state === "delayed" || (job.exitCode ?? 0) !== 0);
  return {
    Key: wrKeyOf(job),
    RepGroup: job.group,
    DepGroups: nullIfEmpty(job.depGroups),
    Dependencies: nullIfEmpty(job.afterGroups),
    Cmd: cmdOf(job),
    State: state as string,
    Cwd: job.scratchDir && (ran || running) ? `/${relative(cwdBase, `${job.scratchDir}/cwd`)}` : "",
    CwdBase: cwdBase,
    HomeChanged: extra.changeHome ?? false,
    Behaviours: behavioursText(job),
    Mounts: "",
    MonitorDocker: extra.monitorDocker ?? "",
    WithDocker: extra.withDocker ?? "",
    WithSingularity: extra.withSingularity ?? "",
    ContainerMounts: extra.containerMounts ?? "",
    ExpectedRAM: Math.round((job.memoryBytes * Math.max(job.cpus, 1)) / MB),
    ExpectedTime: (job.walltimeMs ?? 0) / 1000,
    RequestedDisk: extra.diskGb ?? Math.round((job.diskBytes * Math.max(job.cpus, 1)) / 1024 / MB),
    OtherRequests: null,
    Cores: job.cpus,
    PeakRAM: reserved ? 0 : Math.round((job.peakRssBytes ?? 0) / MB),
    Exited: ran && job.endedAt !== null,
    Exitcode: reserved ? -1 : ran ? (job.exitCode ?? (job.signal ? -1 : 0)) : 0,
    FailReason: failReason,
    Pid: reserved ? 0 : (job.pid ?? 0),
    Host: reserved ? "" : (node?.hostname ?? job.nodeId ?? ""),
    HostID: "",
    HostIP: reserved ? "" : (node?.addresses[0] ?? ""),
    Walltime: Math.max(0, walltimeMs) / 1000,
    CPUtime: ran ? (job.cpuTimeMs ?? 0) / 1000 : 0,
    Started: reserved || (!ran && !running) ? GO_ZERO_TIME : unix(job.startedAt),
    Ended: ran ? unix(job.endedAt) : GO_ZERO_TIME,
    // the output of failed jobs, when asked for (std=true)
    StdErr: ctx.std && failed ? job.stderrTail.trim() : "",
    StdOut: ctx.std && failed ? job.stdoutTail.trim() : "",
    Env: ctx.env ? Object.entries(job.environment).map(([k, v]) => `${k}=${v}`) : null,
    Attempts: job.startCount,
    Similar: 0,
  };
}

export type WrJobView = ReturnType<typeof wrJobView>;

/**
 * wr's limit=N: jobs grouped by state, exit code and fail reason; N of each group shown, the
 * last shown counting the others of its group in Similar.
 */
export function limitSimilar(views: WrJobView[], limit: number): WrJobView[] {
  const groups = new Map<string, WrJobView[]>();
  for (const v of views) {
    const key = `${v.State}.${v.Exitcode}.${v.FailReason}`;
    const group = groups.get(key) ?? [];
    if (group.length < limit) group.push(v);
    else group[group.length - 1]!.Similar++;
    groups.set(key, group);
  }
  return [...groups.values()].flat();
}
