import { useEffect, useState } from "preact/hooks";
import { api, type Me } from "./api.ts";
import { useLive, useThrottle } from "./live.ts";

export interface JobRow {
  id: number;
  name: string;
  owner: string;
  group: string;
  state: string;
  dialect: string;
  command: string;
  cpus: number;
  node: string | null;
  reason: string | null;
  exitCode: number | null;
  submittedAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

const STATES = ["queued", "dispatching", "running", "suspended", "completed", "failed", "cancelled", "lost"];
const time = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "");

export function JobTable({ jobs }: { jobs: JobRow[] }) {
  if (!jobs.length) return <p>No jobs.</p>;
  return (
    <table class="jobs">
      <thead><tr><th scope="col">Job</th><th scope="col">Name</th><th scope="col">State</th><th scope="col">User</th><th scope="col">Group</th><th scope="col">Dialect</th><th scope="col">Node</th><th scope="col">Submitted</th><th scope="col">Command</th></tr></thead>
      <tbody>
        {jobs.map((j) => (
          <tr key={j.id} data-job={j.id}>
            <td><a href={`#/jobs/${j.id}`}>{j.id}</a></td>
            <td>{j.name}</td>
            <td><span class={`state ${j.state}`} title={j.reason ?? ""}>{j.state}</span></td>
            <td>{j.owner}</td>
            <td>{j.group}</td>
            <td>{j.dialect}</td>
            <td>{j.node ?? ""}</td>
            <td>{time(j.submittedAt)}</td>
            <td class="command">{j.command}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function JobsPage({ me }: { me: Me }) {
  // a group chosen on the groups page
  const [filters, setFilters] = useState(() => {
    const group = sessionStorage.getItem("drover.group") ?? "";
    sessionStorage.removeItem("drover.group");
    return { state: "", user: "", group, q: "" };
  });
  const [jobs, setJobs] = useState<JobRow[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState("");
  const query = (before?: number) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
    if (before) p.set("before", String(before));
    p.set("limit", "50");
    return `/jobs?${p}`;
  };
  const load = async () => {
    try {
      const page = await api<{ jobs: JobRow[]; next: number | null }>(query());
      setJobs(page.jobs);
      setNext(page.next);
      setError("");
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const more = async () => {
    if (!next) return;
    const page = await api<{ jobs: JobRow[]; next: number | null }>(query(next));
    setJobs((j) => [...j, ...page.jobs]);
    setNext(page.next);
  };
  useEffect(() => void load(), [filters]);
  const refresh = useThrottle(load, 1000);
  useLive("", (e) => {
    if (e.type === "job" || e.type === "dropped") refresh();
  });
  const set = (k: keyof typeof filters) => (e: Event) => setFilters({ ...filters, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <section>
      <h1>Jobs</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>State <select value={filters.state} onChange={set("state")}><option value="">any</option>{STATES.map((s) => <option value={s}>{s}</option>)}</select></label>
        {me.role === "admin" && <label>User <input value={filters.user} onChange={set("user")} /></label>}
        <label>Group <input value={filters.group} onChange={set("group")} /></label>
        <label>Search <input type="search" value={filters.q} onChange={set("q")} placeholder="name, command or id" /></label>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      <JobTable jobs={jobs} />
      {next && <button type="button" onClick={more}>Older jobs</button>}
    </section>
  );
}

interface JobDetail extends JobRow {
  argv: string[];
  workingDirectory: string | null;
  memoryBytes: number;
  walltimeMs: number | null;
  priority: number;
  holds: string[];
  attempt: number;
  signal: string | null;
  walltimeUsedMs: number | null;
  cpuTimeMs: number | null;
  peakRssBytes: number | null;
  messages: string[];
  stdout: string;
  stderr: string;
  events: { kind: string; at: string; data: Record<string, unknown> }[];
  actions: string[];
}

export function JobPage({ id }: { id: string }) {
  const [job, setJob] = useState<JobDetail | null>(null);
  const [output, setOutput] = useState<{ stdout: string; stderr: string } | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const load = async () => {
    try {
      const j = await api<JobDetail>(`/jobs/${encodeURIComponent(id)}`);
      setJob(j);
      setOutput((o) => o ?? { stdout: j.stdout, stderr: j.stderr });
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const refresh = useThrottle(load, 500);
  useEffect(() => void load(), [id]);
  useLive(`?job=${encodeURIComponent(id)}`, (e) => {
    if (e.type === "output" && String(e.id) === id) setOutput({ stdout: e.stdout, stderr: e.stderr });
    if ((e.type === "job" && String(e.id) === id) || (e.type === "output" && String(e.id) === id) || e.type === "dropped") refresh();
  });
  const act = async (action: string) => {
    setBusy(true);
    try {
      await api(`/jobs/${encodeURIComponent(id)}/${action}`, { method: "POST" });
      await load();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  if (!job) return <section><h1>Job {id}</h1>{error && <p class="error" role="alert">{error}</p>}</section>;
  const fields: [string, string][] = [
    ["State", `${job.state}${job.reason ? ` — ${job.reason}` : ""}`],
    ["Name", job.name],
    ["User", job.owner],
    ["Group", job.group],
    ["Dialect", job.dialect],
    ["Command", job.argv.join(" ")],
    ["Processors", String(job.cpus)],
    ["Node", job.node ?? ""],
    ["Priority", String(job.priority)],
    ["Exit code", job.exitCode === null ? "" : String(job.exitCode)],
    ["Attempt", String(job.attempt)],
    ["Submitted", time(job.submittedAt)],
    ["Started", time(job.startedAt)],
    ["Ended", time(job.endedAt)],
  ];
  return (
    <section>
      <h1>Job {job.id} <span class={`state ${job.state}`} data-testid="job-state">{job.state}</span></h1>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="actions">
        {job.actions.map((a) => <button type="button" disabled={busy} onClick={() => act(a)}>{a[0]!.toUpperCase() + a.slice(1)}</button>)}
      </div>
      <dl class="fields">{fields.map(([k, v]) => <><dt>{k}</dt><dd>{v}</dd></>)}</dl>
      <h2>Output</h2>
      <h3>stdout</h3>
      <pre class="output" data-testid="stdout" tabIndex={0}>{output?.stdout ?? ""}</pre>
      <h3>stderr</h3>
      <pre class="output" data-testid="stderr" tabIndex={0}>{output?.stderr ?? ""}</pre>
      <h2>Timeline</h2>
      <ol class="timeline">
        {job.events.map((e) => <li><time dateTime={e.at}>{time(e.at)}</time> <b>{e.kind}</b> {describe(e.data)}</li>)}
      </ol>
      {job.messages.length > 0 && <><h2>Messages</h2><ul>{job.messages.map((m) => <li>{m}</li>)}</ul></>}
    </section>
  );
}

const describe = (data: Record<string, unknown>) =>
  Object.entries(data).filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(", ");
