// Mixed load on a running cluster (a controller and agents as processes), shared by the soak
// script (scripts/soak.ts, minutes) and its short version in the suite (tests/e2e/soak.test.ts):
// submissions in every dialect, queries, cancels, report samples and uploads, with the
// controller's and agents' memory and open files sampled as it goes. Every answer is checked:
// an error the load did not ask for is counted; every job submitted is accounted for at the end.
import { readdirSync, readFileSync } from "node:fs";
import type { Cluster } from "../tests/helpers/cluster.ts";
import { until } from "../tests/helpers/until.ts";

export interface Resources {
  at: number;
  /** RSS in bytes and open file descriptors, by process (controller, agent names) */
  rss: Record<string, number>;
  fds: Record<string, number>;
}

export interface SoakResult {
  seconds: number;
  requests: number;
  /** answers that were errors the load did not expect, with what they were */
  errors: string[];
  jobs: number;
  unaccounted: number[];
  samples: Resources[];
}

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}
const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** Least-squares slope of y over x. */
export function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const num = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return den ? num / den : 0;
}

/** Runs the mixed load for `seconds`, then waits for every job it submitted to end. */
export async function runSoak(c: Cluster, seconds: number, sampleEveryMs = 5000): Promise<SoakResult> {
  const token = await c.adminToken();
  const headers = { authorization: `Bearer ${token}` };
  const errors: string[] = [];
  const jobIds = new Set<number>();
  const samples: Resources[] = [];
  let requests = 0;
  /** A call whose answer must be one of `ok` (by default any 2xx). */
  const call = async (method: string, path: string, init: { json?: unknown; body?: string | FormData; headers?: Record<string, string>; ok?: number[] } = {}) => {
    requests++;
    const res = await fetch(c.url + path, {
      method,
      headers: { ...headers, ...(init.json !== undefined ? { "content-type": "application/json" } : {}), ...init.headers },
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
    });
    const text = await res.text();
    if (init.ok ? !init.ok.includes(res.status) : res.status >= 300) errors.push(`${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
    return { status: res.status, text };
  };
  const sample = () => {
    const pids: Record<string, number> = { controller: c.controller!.proc.pid };
    for (const [name, a] of c.agents) pids[name] = a.proc.pid;
    const rss: Record<string, number> = {};
    const fds: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) {
      rss[name] = rssOf(pid);
      fds[name] = fdsOf(pid);
    }
    samples.push({ at: Date.now(), rss, fds });
  };
  // an app for caesar and MDWorkbench, a report for samples
  await call("PUT", "/apps/soak-echo", { json: { name: "soak-echo", description: "echo", command: ["echo", "{word}"], options: { word: { type: "str", mandatory: true, description: "a word" } }, resources: { cpus: 1 } } });
  const report = JSON.parse((await call("POST", "/rest/reports", { json: { name: `soak-${Date.now()}`, datapointDuration: 5, reportSize: 100 } })).text) as { id: string };

  const started = Date.now();
  sample();
  let lastSample = Date.now();
  let round = 0;
  while (Date.now() - started < seconds * 1000) {
    round++;
    // MWS: a batch of short jobs and a longer one to cancel
    const batch = JSON.parse((await call("POST", "/rest/jobs", { json: Array.from({ length: 10 }, () => ({ commandFile: "/bin/true" })) })).text) as { id: string }[];
    for (const j of batch) jobIds.add(Number(String(j.id).replace(/\D/g, "")));
    const long = JSON.parse((await call("POST", "/rest/jobs", { json: { commandFile: "/bin/sleep", commandLineArguments: "30" } })).text) as { id: string };
    const longId = Number(String(long.id).replace(/\D/g, ""));
    jobIds.add(longId);
    // wr: jobs in a group (identical commands add nothing the second time)
    const wr = JSON.parse((await call("POST", `/rest/v1/jobs/?rep_grp=soak${round % 5}`, { json: [{ cmd: `echo soak ${round}` }, { cmd: "true" }] })).text) as { Key: string }[];
    for (const j of wr) {
      const found = JSON.parse((await call("GET", `/rest/v1/jobs/${j.Key}`)).text) as unknown[];
      if (!Array.isArray(found) || !found.length) errors.push(`wr job ${j.Key} not found`);
    }
    // caesar: an upload and a job
    const form = new FormData();
    form.append("file", new File([JSON.stringify({ round })], `r${round}.json`));
    const up = JSON.parse((await call("POST", "/caesar/api/v1.0/upload", { body: form })).text) as { uuid: string };
    await call("POST", "/caesar/api/v1.0/job", { json: { app: "soak-echo", job_inputs: { word: `w${round}` } }, ok: [202] });
    if (round % 3 === 0) await call("GET", `/caesar/api/v1.0/download/${up.uuid}`);
    // MDWorkbench: a launch by headers
    const launch = JSON.parse((await call("POST", "/mdworkbench/launch?id=soak-echo", { headers: { word: `m${round}` } })).text) as { id: string };
    jobIds.add(Number(launch.id));
    // report samples
    await call("POST", `/rest/reports/${report.id}/samples`, { json: [{ data: { round, load: round % 7 } }], ok: [200, 201] });
    // queries
    await call("GET", "/jobs?limit=50");
    await call("GET", "/rest/jobs?max=20");
    await call("GET", "/rest/nodes");
    await call("GET", "/overview");
    // cancel the long job (it may still be queued, or running)
    await call("DELETE", `/rest/jobs/${longId}`);
    if (Date.now() - lastSample >= sampleEveryMs) {
      sample();
      lastSample = Date.now();
    }
  }
  const loadSeconds = (Date.now() - started) / 1000;
  // every job ends, and none is lost
  const ids = [...jobIds];
  let unaccounted: number[] = [];
  try {
    await until(async () => {
      // nothing of any dialect still waits or runs
      const page = JSON.parse((await call("GET", "/jobs?limit=1&state=queued,dispatching,running,suspended")).text) as { jobs: unknown[] };
      return page.jobs.length === 0 ? true : undefined;
    }, 300_000, "every soak job to end");
  } catch {
    const left = JSON.parse((await call("GET", "/jobs?limit=500&state=queued,dispatching,running,suspended")).text) as { jobs: { id: number; state: string; dialect: string; reason: string | null; command: string }[] };
    const byKind = new Map<string, number>();
    for (const j of left.jobs) byKind.set(`${j.dialect} ${j.state} (${j.reason ?? ""}) ${j.command.slice(0, 40)}`, (byKind.get(`${j.dialect} ${j.state} (${j.reason ?? ""}) ${j.command.slice(0, 40)}`) ?? 0) + 1);
    errors.push(`jobs still waiting or running 5 minutes after the load: ${[...byKind].map(([k, n]) => `${n} × ${k}`).join("; ")}`);
  }
  for (const id of ids) {
    const res = await fetch(`${c.url}/jobs/${id}`, { headers });
    if (res.status !== 200) unaccounted.push(id);
    else {
      const state = ((await res.json()) as { state: string }).state;
      if (!["completed", "cancelled"].includes(state)) unaccounted.push(id);
    }
  }
  unaccounted = unaccounted.slice(0, 50);
  sample();
  return { seconds: loadSeconds, requests, errors, jobs: ids.length, unaccounted, samples };
}
