import type { Client } from "./connection.ts";
import { paint, printJson, stateColour, table } from "./output.ts";

interface MwsNode {
  id: string; state: string; totalProcessors: number; availableProcessors: number; totalMemory: number; availableMemory: number; cpuLoad: number;
  partition: string; features: string[]; blockReason: string; genericResources: Record<string, number>;
}

/** `drover nodes`: a table like sinfo's (MWS's node view). */
export async function showNodes(client: Client, json: boolean): Promise<number> {
  const { results } = await client.request<{ results: MwsNode[] }>("GET", "/rest/nodes");
  if (json) return printJson(results), 0;
  if (!results.length) {
    process.stderr.write("no nodes have registered\n");
    return 0;
  }
  const gb = (mb: number) => `${(mb / 1024).toFixed(1)}G`;
  const rows = results.map((n) => [
    n.id, paint(n.state.toUpperCase(), stateColour(n.state)), `${n.totalProcessors - n.availableProcessors}/${n.totalProcessors}`,
    `${gb(n.totalMemory - n.availableMemory)}/${gb(n.totalMemory)}`, n.cpuLoad.toFixed(2), n.partition, n.features.join(","),
    Object.entries(n.genericResources).map(([k, v]) => `${k}:${v}`).join(","), n.blockReason,
  ]);
  process.stdout.write(table(["NODE", "STATE", "CPUS(USED/ALL)", "MEMORY(USED/ALL)", "LOAD", "PARTITION", "FEATURES", "GRES", "REASON"], rows) + "\n");
  return 0;
}

/** `drover drain NODE [--reason …]` and `drover undrain NODE`: an administrator's (MWS modify node). */
export async function drain(client: Client, node: string, on: boolean, reason: string | undefined, json: boolean): Promise<number> {
  const body = on ? { state: "Drained", ...(reason ? { messages: [reason] } : {}) } : { state: "Idle" };
  const res = await client.request<{ messages: string[] }>("PUT", `/rest/nodes/${encodeURIComponent(node)}`, body);
  if (json) return printJson(res), 0;
  process.stdout.write(on ? `node ${node} drained: its running jobs finish, no new job starts there\n` : `node ${node} takes jobs again\n`);
  return 0;
}
