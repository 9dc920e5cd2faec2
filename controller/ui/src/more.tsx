import { useEffect, useState } from "preact/hooks";
import { api, parseDate } from "./api.ts";
import { Chart } from "./chart.tsx";
import { useLive, useThrottle } from "./live.ts";
import type { Datapoint } from "./overview.tsx";

const STATES = ["queued", "dispatching", "running", "suspended", "completed", "failed", "cancelled", "lost"];

export function GroupsPage() {
  const [groups, setGroups] = useState<{ kind: string; name: string; counts: Record<string, number> }[]>([]);
  const [error, setError] = useState("");
  const load = () => api<typeof groups>("/groups").then(setGroups, (e) => setError((e as Error).message));
  const refresh = useThrottle(load, 2000);
  useEffect(() => void load(), []);
  useLive("", (e) => e.type === "job" && refresh());
  return (
    <section>
      <h1>Groups</h1>
      <p>Jobs by state per wr report group, per workflow and per launch queue (app).</p>
      {error && <p class="error" role="alert">{error}</p>}
      <table>
        <thead><tr><th scope="col">Kind</th><th scope="col">Name</th>{STATES.map((s) => <th scope="col">{s}</th>)}</tr></thead>
        <tbody>
          {groups.map((g) => (
            <tr>
              <td>{g.kind}</td>
              <td><a href={`#/jobs`} onClick={() => sessionStorage.setItem("drover.group", g.name)}>{g.name}</a></td>
              {STATES.map((s) => <td class="number">{g.counts[s] ?? ""}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
      {!groups.length && !error && <p>No grouped jobs yet.</p>}
    </section>
  );
}

interface Report {
  id: string;
  name: string;
  description: string | null;
}

/** Every numeric leaf of a datapoint's data, as dotted paths. */
function numericPaths(data: unknown, prefix = ""): string[] {
  if (typeof data === "number") return [prefix];
  if (!data || typeof data !== "object") return [];
  return Object.entries(data as Record<string, unknown>).flatMap(([k, v]) => numericPaths(v, prefix ? `${prefix}.${k}` : k));
}
const valueAt = (data: unknown, path: string): number | null => {
  let v = data;
  for (const k of path.split(".")) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === "number" ? v : null;
};

export function ReportsPage() {
  const [reports, setReports] = useState<Report[]>([]);
  const [chosen, setChosen] = useState("");
  const [points, setPoints] = useState<Datapoint[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    api<{ results: Report[] }>("/rest/reports").then((r) => {
      setReports(r.results);
      setChosen((c) => c || r.results[0]?.name || "");
    }, (e) => setError((e as Error).message));
  }, []);
  useEffect(() => {
    if (!chosen) return;
    const load = () => api<{ datapoints?: Datapoint[] }>(`/rest/reports/${encodeURIComponent(chosen)}`).then((r) => setPoints(r.datapoints ?? []), (e) => setError((e as Error).message));
    void load();
    const timer = setInterval(load, 10_000);
    return () => clearInterval(timer);
  }, [chosen]);
  const paths = [...new Set(points.flatMap((p) => numericPaths(p.data)))].slice(0, 12);
  return (
    <section>
      <h1>Reports</h1>
      {error && <p class="error" role="alert">{error}</p>}
      <label>Report <select value={chosen} onChange={(e) => setChosen(e.currentTarget.value)}>{reports.map((r) => <option value={r.name}>{r.name}</option>)}</select></label>
      <p>{points.length} datapoints{reports.find((r) => r.name === chosen)?.description ? ` — ${reports.find((r) => r.name === chosen)!.description}` : ""}</p>
      {paths.map((path) => <Chart title={path} x={points.map((p) => parseDate(p.startDate))} series={[{ label: path, values: points.map((p) => valueAt(p.data, path)) }]} height={140} />)}
    </section>
  );
}

export function AdminPage() {
  const [users, setUsers] = useState<{ username: string; role: string; createdAt: string }[]>([]);
  const [tokens, setTokens] = useState<{ id: number; name: string; createdBy: string; createdAt: string; revokedAt: string | null }[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    api<typeof users>("/auth/users").then(setUsers, (e) => setError((e as Error).message));
    api<typeof tokens>("/auth/agent-tokens").then(setTokens, (e) => setError((e as Error).message));
  }, []);
  return (
    <section>
      <h1>Admin</h1>
      {error && <p class="error" role="alert">{error}</p>}
      <h2>Users</h2>
      <table>
        <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Created</th></tr></thead>
        <tbody>{users.map((u) => <tr><td>{u.username}</td><td>{u.role}</td><td>{new Date(u.createdAt).toLocaleString()}</td></tr>)}</tbody>
      </table>
      <h2>Agent tokens</h2>
      <table>
        <thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Created by</th><th scope="col">Created</th><th scope="col">Revoked</th></tr></thead>
        <tbody>{tokens.map((t) => <tr><td>{t.id}</td><td>{t.name}</td><td>{t.createdBy}</td><td>{new Date(t.createdAt).toLocaleString()}</td><td>{t.revokedAt ? new Date(t.revokedAt).toLocaleString() : ""}</td></tr>)}</tbody>
      </table>
    </section>
  );
}
