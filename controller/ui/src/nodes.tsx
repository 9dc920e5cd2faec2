import { useEffect, useState } from "preact/hooks";
import { api, parseDate } from "./api.ts";
import { Chart } from "./chart.tsx";
import { JobTable, type JobRow } from "./jobs.tsx";
import { useLive, useThrottle } from "./live.ts";
import { at, type Datapoint } from "./overview.tsx";

interface MwsNode {
  id: string;
  state: string;
  partition: string;
  features: string[];
  totalProcessors: number;
  availableProcessors: number;
  totalMemory: number;
  availableMemory: number;
  cpuLoad: number;
  lastUpdateDate: string | null;
}

export function NodesPage() {
  const [nodes, setNodes] = useState<MwsNode[]>([]);
  const [error, setError] = useState("");
  const load = () => api<{ results: MwsNode[] }>("/rest/nodes").then((r) => setNodes(r.results), (e) => setError((e as Error).message));
  const refresh = useThrottle(load, 1000);
  useEffect(() => {
    void load();
    const timer = setInterval(load, 10_000);
    return () => clearInterval(timer);
  }, []);
  useLive("", (e) => e.type !== "output" && refresh());
  return (
    <section>
      <h1>Nodes</h1>
      {error && <p class="error" role="alert">{error}</p>}
      <table>
        <thead><tr><th scope="col">Node</th><th scope="col">State</th><th scope="col">Partition</th><th scope="col">Processors used</th><th scope="col">Memory free</th><th scope="col">Load</th><th scope="col">Features</th></tr></thead>
        <tbody>
          {nodes.map((n) => (
            <tr key={n.id}>
              <td><a href={`#/nodes/${encodeURIComponent(n.id)}`}>{n.id}</a></td>
              <td><span class={`state ${n.state.toLowerCase()}`}>{n.state}</span></td>
              <td>{n.partition}</td>
              <td>{n.totalProcessors - n.availableProcessors} / {n.totalProcessors}</td>
              <td>{n.availableMemory} / {n.totalMemory} MB</td>
              <td>{n.cpuLoad.toFixed(2)}</td>
              <td>{n.features.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!nodes.length && !error && <p>No node has registered yet.</p>}
    </section>
  );
}

interface Live {
  t: number;
  load: number;
  memoryUsed: number;
}

export function NodePage({ id }: { id: string }) {
  const [node, setNode] = useState<MwsNode | null>(null);
  const [points, setPoints] = useState<Datapoint[]>([]);
  const [live, setLive] = useState<Live[]>([]);
  const [jobs, setJobs] = useState<JobRow[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    let stopped = false;
    const tick = async () => {
      try {
        const n = await api<MwsNode>(`/rest/nodes/${encodeURIComponent(id)}`);
        if (stopped) return;
        setNode(n);
        setLive((l) => [...l.slice(-300), { t: Date.now(), load: n.cpuLoad, memoryUsed: n.totalMemory - n.availableMemory }]);
      } catch (e) {
        setError((e as Error).message);
      }
    };
    const slow = async () => {
      const report = await api<{ datapoints?: Datapoint[] }>(`/rest/reports/${encodeURIComponent(`node-${id}`)}`).catch(() => ({ datapoints: [] }));
      if (!stopped) setPoints(report.datapoints ?? []);
      const list = await api<{ jobs: JobRow[] }>(`/jobs?node=${encodeURIComponent(id)}&state=dispatching,running,suspended&limit=100`).catch(() => ({ jobs: [] }));
      if (!stopped) setJobs(list.jobs);
    };
    void tick();
    void slow();
    const a = setInterval(tick, 2000);
    const b = setInterval(slow, 5000);
    return () => {
      stopped = true;
      clearInterval(a);
      clearInterval(b);
    };
  }, [id]);
  const x = points.map((p) => parseDate(p.startDate));
  return (
    <section>
      <h1>Node {id}</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {node && <p>{node.state} · {node.totalProcessors - node.availableProcessors} of {node.totalProcessors} processors used · {node.availableMemory} of {node.totalMemory} MB free · partition {node.partition}</p>}
      <Chart title="CPU (%) and memory (%) — report datapoints" x={x} series={[
        { label: "CPU %", values: points.map((p) => at(p.data, "cpuUtilization")) },
        { label: "memory %", values: points.map((p) => { const u = at(p.data, "memory.usedBytes"); const t = at(p.data, "memory.totalBytes"); return u !== null && t ? Math.round((100 * u) / t) : null; }) },
      ]} />
      <Chart title="Load — live" x={live.map((l) => l.t)} series={[{ label: "load", values: live.map((l) => l.load) }]} />
      <Chart title="Memory used (MB) — live" x={live.map((l) => l.t)} series={[{ label: "memory used (MB)", values: live.map((l) => l.memoryUsed) }]} />
      <h2>Its jobs</h2>
      <JobTable jobs={jobs} />
    </section>
  );
}
