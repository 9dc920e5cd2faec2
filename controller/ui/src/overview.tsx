import { useEffect, useState } from "preact/hooks";
import { api, mb, parseDate } from "./api.ts";
import { Chart } from "./chart.tsx";
import { useLive, useThrottle } from "./live.ts";

interface Overview {
  nodes: { up: number; down: number; drained: number };
  processors: { total: number; allocated: number };
  cpuUtilization: number | null;
  memory: { totalBytes: number; usedBytes: number };
  jobs: { running: number; starting: number; queued: number; failedLastHour: number };
}
export interface Datapoint {
  startDate: string;
  data: Record<string, unknown> | null;
}

/** A number at a dotted path of a datapoint's data (memory.usedBytes), or null. */
export const at = (data: Record<string, unknown> | null, path: string): number | null => {
  let v: unknown = data;
  for (const k of path.split(".")) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === "number" ? v : null;
};

export function Overview() {
  const [now, setNow] = useState<Overview | null>(null);
  const [points, setPoints] = useState<Datapoint[]>([]);
  const [error, setError] = useState("");
  const load = async () => {
    try {
      setNow(await api<Overview>("/overview"));
      const report = await api<{ datapoints?: Datapoint[] }>("/rest/reports/cluster").catch(() => ({ datapoints: [] }));
      setPoints(report.datapoints ?? []);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const refresh = useThrottle(load, 1000);
  useEffect(() => {
    void load();
    const timer = setInterval(load, 15_000);
    return () => clearInterval(timer);
  }, []);
  useLive("", refresh);
  const x = points.map((p) => parseDate(p.startDate));
  return (
    <section>
      <h1>Overview</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {now && (
        <div class="cards">
          <div class="card"><h2>Nodes</h2><p><b data-testid="nodes-up">{now.nodes.up}</b> up · {now.nodes.down} down · {now.nodes.drained} drained</p></div>
          <div class="card"><h2>Processors</h2><p><b>{now.processors.allocated}</b> used of {now.processors.total}</p></div>
          <div class="card"><h2>Memory</h2><p><b>{mb(now.memory.usedBytes)}</b> used of {mb(now.memory.totalBytes)}</p></div>
          <div class="card"><h2>Jobs</h2><p><b data-testid="jobs-running">{now.jobs.running}</b> running · {now.jobs.queued} queued · {now.jobs.failedLastHour} failed in the last hour</p></div>
        </div>
      )}
      <Chart title="Cluster: processors and jobs" x={x} series={[
        { label: "processors used", values: points.map((p) => at(p.data, "processors.allocated")) },
        { label: "jobs running", values: points.map((p) => at(p.data, "jobs.running")) },
        { label: "jobs queued", values: points.map((p) => at(p.data, "jobs.queued")) },
      ]} />
      <Chart title="Cluster: CPU use (%)" x={x} series={[{ label: "CPU %", values: points.map((p) => at(p.data, "cpuUtilization")) }]} />
    </section>
  );
}
