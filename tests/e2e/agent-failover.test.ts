// Agents fail over between controllers sharing one Postgres: an agent given two addresses moves
// to the second when the first is killed (kill -9) with a job in flight; the job ends once, with
// its result, and the next job runs through the survivor.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { peerControllers, type Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

await forEachDatabaseUrl("agent failover between controllers", (url, kind) => {
  // (the embedded database belongs to one process: two controllers share Postgres only)
  if (kind === "pglite") return;
  let a: Cluster;
  let b: Cluster;
  beforeAll(async () => {
    [a, b] = await peerControllers(url(), { DROVER_NODE_BACKLOG: "0" });
    await a.startAgent("fo-node", { controllers: [`127.0.0.1:${a.grpcPort}`, `127.0.0.1:${b.grpcPort}`] });
  }, 90_000);
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  test("kill -9 of its controller: the agent registers with the other; the job in flight ends once, with its result", async () => {
    const id = await a.submit({ commandFile: "/bin/sh", commandLineArguments: '-c "sleep 3; echo survived; exit 4"' });
    await a.waitForState(id, ["RUNNING"]);
    await a.killController();
    // the survivor hears of the job's end from the agent's spool
    const ended = await b.waitForState(id, ["COMPLETED"], 30_000);
    expect(ended).toMatchObject({ masterHost: "fo-node", completionCode: 4, startCount: 1 });
    const events = (await b.json(`/jobs/${id.replace("drover.", "")}`)).events as { kind: string }[];
    expect(events.filter((e) => ["failed", "completed"].includes(e.kind))).toHaveLength(1);
    expect(events.filter((e) => e.kind === "started")).toHaveLength(1);
    // and the next job runs there, through the survivor
    const next = await b.submit({ commandFile: "/bin/echo", commandLineArguments: "again" });
    expect((await b.waitForState(next, ["COMPLETED"])).masterHost).toBe("fo-node");
    await until(async () => (await b.json("/rest/nodes/fo-node")).state !== "Down", 10_000, "the node to stay up");
  }, 90_000);
});
