// Two controllers as peers on one Postgres, with agents as processes spread over both: a job
// submitted through one runs on a node the other holds, its files are fetched through either;
// a cancel through one reaches it; kill -9
// of the leading controller with 200 jobs in flight — every job ends exactly once, with its
// result, and the once-only work (liveness here) moves to the survivor.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { peerControllers, type Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";
import { caesarJobId } from "../../controller/src/api/caesar/views.ts";

type Controllers = { controllers: { id: string; url: string; alive: boolean; leader: boolean; nodes: number; self: boolean }[] };

await forEachDatabaseUrl("two controllers on one Postgres", (url, kind) => {
  // (the embedded database belongs to one process: controllers share Postgres only)
  if (kind === "pglite") return;
  let a: Cluster;
  let b: Cluster;
  beforeAll(async () => {
    // (the second signs tokens with the first's secret, as the README's "Several controllers" asks)
    [a, b] = await peerControllers(url(), { DROVER_NODE_BACKLOG: "0" });
    const [toA, toB] = [`127.0.0.1:${a.grpcPort}`, `127.0.0.1:${b.grpcPort}`];
    for (const n of ["pa-1", "pa-2"]) await a.startAgent(n, { controllers: [toA, toB], args: ["--cpus", "4"] });
    for (const n of ["pb-1", "pb-2"]) await b.startAgent(n, { controllers: [toB, toA], args: ["--cpus", "4"] });
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  test("each sees both, one leads; a token of one is good at the other", async () => {
    const seen = await until(async () => {
      const list = (await a.json<Controllers>("/cluster/controllers")).controllers.filter((c) => c.alive);
      return list.length === 2 && list.filter((c) => c.leader).length === 1 && list.every((c) => c.nodes === 2) ? list : undefined;
    }, 15_000, "both controllers alive, one leading, two nodes each");
    expect(seen.map((c) => c.url).sort()).toEqual([a.url, b.url].sort());
    const token = await a.adminToken();
    const res = await fetch(`${b.url}/cluster/controllers`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });

  test("a job submitted through one runs on a node the other holds; a cancel and a suspend through one reach it", async () => {
    const id = await a.submit({ commandFile: "/bin/sh", commandLineArguments: '-c "echo through-b; exit 3"', hosts: ["pb-1"] });
    const done = await a.waitForState(id, ["COMPLETED"], 30_000);
    expect(done).toMatchObject({ masterHost: "pb-1", completionCode: 3, startCount: 1 });
    expect(readFileSync(done.standardOutputFilePath, "utf8")).toBe("through-b\n");
    // its directory through A, which does not hold pb-1: A has B fetch it from the node
    const n = Number(id.split(".").pop());
    const archive = await a.api(`/caesar/api/v1.0/job/${caesarJobId(n)}/output`);
    expect(archive.status).toBe(200);
    expect(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await archive.arrayBuffer())))).toContain("through-b\n");
    // (what controllers ask one another takes no user's token, an administrator's neither)
    expect((await a.api("/cluster/peer/job-archive", { method: "POST", json: { node: "pb-1", jobId: n, attempt: 1, top: "x" } })).status).toBe(401);

    const long = await a.submit({ commandFile: "/bin/sleep", commandLineArguments: "120", hosts: ["pb-2"] });
    await a.waitForState(long, ["RUNNING"], 30_000);
    expect((await a.api(`/rest/jobs/${long}/suspend`, { method: "PUT" })).status).toBe(200);
    await until(async () => ((await b.job(long)).state === "SUSPENDED" ? true : undefined), 15_000, "the suspend to reach pb-2 through b");
    expect((await a.api(`/rest/jobs/${long}`, { method: "DELETE" })).status).toBe(200);
    // (well before its 120 s: the agent on pb-2 killed it)
    const cancelled = await b.waitForState(long, ["REMOVED"], 20_000);
    expect(cancelled.masterHost).toBe("pb-2");
  }, 90_000);

  test("kill -9 of the leader with 200 jobs in flight: every job ends exactly once with its result; the survivor leads and watches the nodes", async () => {
    const list = (await a.json<Controllers>("/cluster/controllers")).controllers;
    const leaderUrl = list.find((c) => c.alive && c.leader)!.url;
    const [leader, survivor] = leaderUrl === a.url ? [a, b] : [b, a];
    const out = join(leader.home, "runs");
    mkdirSync(out);
    // 200 jobs over 16 processors, each writing down its run; submitted through the survivor
    const payload = Array.from({ length: 200 }, (_, i) => ({
      commandFile: "/bin/sh",
      commandLineArguments: `-c "sleep 0.${(i % 8) + 2}; echo $DROVER_JOB_ID.$DROVER_JOB_ATTEMPT >> ${out}/$DROVER_JOB_ID; echo result-${i}"`,
    }));
    const res = await survivor.api("/rest/jobs", { method: "POST", json: payload });
    expect(res.status).toBe(201);
    const ids = ((await res.json()) as { id: string }[]).map((j) => j.id);
    expect(ids).toHaveLength(200);
    await until(async () => ((await survivor.json<{ jobs: unknown[] }>("/jobs?state=running")).jobs.length >= 8 ? true : undefined), 30_000, "jobs to run on both controllers' nodes");
    await leader.killController();

    const done = await until(async () => {
      const js = await Promise.all(ids.map((id) => survivor.job(id)));
      return js.every((j) => j.state === "COMPLETED" || j.state === "REMOVED") ? js : undefined;
    }, 150_000, "every job to end");
    for (const [i, j] of done.entries()) {
      expect({ id: j.id, state: j.state, code: j.completionCode, starts: j.startCount }).toEqual({ id: j.id, state: "COMPLETED", code: 0, starts: 1 });
      expect(readFileSync(j.standardOutputFilePath, "utf8")).toBe(`result-${i}\n`);
    }
    // ran once each: one line per job, in the file of its id
    const runs = readdirSync(out);
    expect(runs.length).toBe(200);
    for (const f of runs) expect(readFileSync(join(out, f), "utf8").trim().split("\n")).toHaveLength(1);

    // the survivor leads now, and liveness runs there: an agent killed is found out
    await until(async () => {
      const cs = (await survivor.json<Controllers>("/cluster/controllers")).controllers;
      return cs.find((c) => c.self)?.leader && !cs.find((c) => !c.self)?.alive ? true : undefined;
    }, 20_000, "the survivor to lead and the dead controller to be seen dead");
    const victim = leader === a ? "pb-2" : "pa-2";
    await survivor.killAgent(victim);
    await until(async () => ((await survivor.json(`/rest/nodes/${victim}`)).state === "Down" ? true : undefined), 30_000, `${victim} to be found down by the survivor`);
  }, 240_000);
});
