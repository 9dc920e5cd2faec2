// The MWS jobs API (3.4) on real jobs: actions, modification, the msub equivalence, ownership.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

await forEachDatabaseUrl("the MWS jobs API on a three-node cluster", (url) => {
  let c: Cluster;
  let work: string;
  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url() });
    await c.startController();
    await Promise.all([c.startAgent("node-a"), c.startAgent("node-b"), c.startAgent("node-c")]);
    work = mkdtempSync(join(tmpdir(), "drover-mws-"));
  }, 90_000);
  afterAll(async () => {
    await c.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const put = async (path: string, json?: unknown) => {
    const res = await c.api(path, { method: "PUT", json });
    return { status: res.status, body: (await res.json()) as any };
  };
  const messagesOf = (j: any) => j.messages.map((m: any) => m.message) as string[];

  test("hold at submit, SYSTEM and USER holds, unhold; then the job runs", async () => {
    const id = await c.submit({ commandLine: "true", holds: ["USER"] });
    let j = await c.job(id);
    expect(j.state).toBe("HOLD");
    expect(j.queueStatus).toBe("BLOCKED");
    expect(j.blockReason).toEqual({ type: "HOLD", message: "held (USER)" });
    expect((await put(`/rest/jobs/${id}/hold`, { holds: ["SYSTEM"] })).body.messages[0]).toContain("held (USER, SYSTEM)");
    const partial = await put(`/rest/jobs/${id}/unhold`, { holds: ["USER"] });
    expect(partial.status).toBe(200);
    expect((await c.job(id)).holds).toEqual(["SYSTEM"]);
    expect((await put(`/rest/jobs/${id}/unhold`, { holds: ["BOGUS"] })).status).toBe(400);
    expect((await put(`/rest/jobs/${id}/unhold`)).body.messages).toEqual([`Job ${id} released`]);
    j = await c.waitForState(id, ["COMPLETED"]);
    expect(j.completionCode).toBe(0);
    expect(messagesOf(j)).toEqual(expect.arrayContaining(["hold SYSTEM set by admin", "hold USER released by admin", "hold SYSTEM released by admin"]));
    // a running or finished job cannot be held
    expect((await put(`/rest/jobs/${id}/hold`, { holds: ["USER"] })).status).toBe(400);
  }, 60_000);

  test("requeue stops a running job and runs it again", async () => {
    const marker = join(work, "requeue-count");
    const id = await c.submit({ commandFile: "/bin/sh", commandLineArguments: `-c "echo x >> ${marker}; sleep 30"` });
    await c.waitForState(id, ["RUNNING"]);
    const res = await put(`/rest/jobs/${id}/requeue`);
    expect(res.status).toBe(200);
    const again = await until(async () => {
      const j = await c.job(id);
      return j.state === "RUNNING" && j.startCount === 2 ? j : undefined;
    }, 30_000, "the requeued job to run again");
    expect(messagesOf(again).some((m) => m.startsWith("requeued on request"))).toBe(true);
    await until(async () => readFileSync(marker, "utf8") === "x\nx\n" || undefined, 10_000, "two runs");
    expect((await put(`/rest/jobs/${id}/cancel`)).status).toBe(200);
    const done = await c.waitForState(id, ["REMOVED"]);
    expect(done.startCount).toBe(2);
    expect((await put(`/rest/jobs/${id}/requeue`)).status).toBe(400);
  }, 60_000);

  test("execute starts a deferred job now; checkpoint is refused; unknown actions are 400", async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const id = await c.submit({ commandLine: "true", earliestStartDateRequested: tomorrow });
    const deferred = await c.job(id);
    expect(deferred.state).toBe("DEFERRED");
    expect(deferred.blockReason.type).toBe("DEFERRED");
    const res = await put(`/rest/jobs/${id}/execute`);
    expect(res.status).toBe(200);
    expect(res.body.messages[0]).toMatch(/started on node-|will start ahead of the queue/);
    await c.waitForState(id, ["COMPLETED"]);
    const checkpoint = await put(`/rest/jobs/${id}/checkpoint`);
    expect(checkpoint.status).toBe(400);
    expect(checkpoint.body.messages[0]).toContain("not supported");
    expect((await put(`/rest/jobs/${id}/explode`)).status).toBe(400);
  }, 60_000);

  test("modify: attributes change, messages are appended, unsupported fields are refused by name", async () => {
    const id = await c.submit({ commandLine: "true", holds: ["USER"], name: "before", variables: { a: "1" } });
    const res = await put(`/rest/jobs/${id}`, {
      name: "EngineeringJob",
      durationRequested: 600,
      userPriority: 10,
      messages: [{ message: "First message" }, { message: "Second message" }],
      variables: { var1: "val1" },
      flags: ["RESTARTABLE"],
    });
    expect(res.status).toBe(200);
    expect(res.body.messages).toEqual(expect.arrayContaining(["Name modified successfully", "Messages modified successfully", "Variables modified successfully"]));
    const j = await c.job(id);
    expect(j).toMatchObject({ name: "EngineeringJob", durationRequested: 600, userPriority: 10, variables: { a: "1", var1: "val1" }, flags: ["RESTARTABLE"] });
    expect(messagesOf(j).slice(0, 2)).toEqual(["First message", "Second message"]);
    await put(`/rest/jobs/${id}`, { messages: [{ message: "Third" }] });
    expect(messagesOf(await c.job(id))).toEqual(expect.arrayContaining(["First message", "Second message", "Third"]));
    const refused = await put(`/rest/jobs/${id}`, { queue: "BATCH", name: "x" });
    expect(refused.status).toBe(400);
    expect(refused.body.messages[0]).toContain("queue");
    expect((await c.job(id)).name).toBe("EngineeringJob"); // nothing of a refused request changed
    expect((await put(`/rest/jobs/${id}`, { variables: { "bad;name": "x" } })).status).toBe(400);
    expect((await put(`/rest/jobs/${id}`, { colour: "red" })).status).toBe(400);
    expect((await put(`/rest/jobs/${id}`, {})).status).toBe(400);
    expect((await put(`/rest/jobs/drover.999999`, { name: "x" })).status).toBe(404);
    await put(`/rest/jobs/${id}/cancel`);
  }, 60_000);

  test("the msub example of 3.4.2.3: nodes=3:ppn=2,walltime=1:00:00,pmem=100 as MWS", async () => {
    await c.json("/auth/users", { method: "POST", json: { username: "adaptive", password: "adaptive-password" } });
    const script = join(work, "script2.pbs.cmd");
    writeFileSync(script, '#!/bin/sh\nsort "$PBS_NODEFILE" | uniq -c | awk \'{print $2":"$1}\' | tr "\\n" " "; echo; echo "$DROVER_HOSTS" | tr "," "\\n" | wc -l\n');
    chmodSync(script, 0o755);
    const id = await c.submit({
      user: "adaptive",
      group: "adaptive",
      initialWorkingDirectory: work,
      commandFile: script,
      requirements: [{ requiredProcessorCountMinimum: 6, tasksPerNode: 2, requiredMemoryPerTask: 100 }],
      durationRequested: 3600,
    });
    const j = await c.waitForState(id, ["COMPLETED"], 60_000);
    expect(j.completionCode).toBe(0);
    expect(j.user).toBe("adaptive");
    expect(j.allocatedNodes.map((n: any) => n.id).sort()).toEqual(["node-a", "node-b", "node-c"]);
    expect(j.requirements[0]).toMatchObject({ requiredProcessorCountMinimum: 6, tasksPerNode: 2, requiredNodeCountMinimum: 3, requiredMemoryPerTask: 100 });
    expect(j.memoryRequested).toBe(600);
    expect(j.durationRequested).toBe(3600);
    const [perNode, distinct] = readFileSync(j.standardOutputFilePath, "utf8").trim().split("\n");
    expect(perNode!.trim().split(" ").sort()).toEqual(["node-a:2", "node-b:2", "node-c:2"]);
    expect(distinct!.trim()).toBe("3");
  }, 90_000);

  test("the other examples of 3.4.2.3: a host list, a processor count as a string, a start date", async () => {
    const hosts = await c.submit({ commandFile: "/bin/true", group: "adaptive", hosts: ["node-b", "node-c"], initialWorkingDirectory: work, user: "adaptive" });
    const procs = await c.submit({ commandFile: "/bin/true", group: "adaptive", initialWorkingDirectory: work, requirements: [{ requiredProcessorCountMinimum: "4" }], user: "adaptive" });
    const later = await c.submit({ commandFile: "/bin/true", earliestStartDateRequested: "2012-08-26 16:28:20 MDT", group: "adaptive", initialWorkingDirectory: work, requirements: [{ requiredProcessorCountMinimum: "2" }], user: "adaptive" });
    const h = await c.waitForState(hosts, ["COMPLETED"]);
    expect(h.allocatedNodes.map((n: any) => n.id)).toEqual(["node-b", "node-c"]);
    expect(h.masterHost).toBe("node-b");
    expect((await c.waitForState(procs, ["COMPLETED"])).requirements[0].requiredProcessorCountMinimum).toBe(4);
    expect((await c.waitForState(later, ["COMPLETED"])).earliestStartDateRequested).toBe("2012-08-26 22:28:20 UTC");
  }, 60_000);

  test("users see and act on their own jobs only; proxy-user is for administrators", async () => {
    await c.json("/auth/users", { method: "POST", json: { username: "eve", password: "eve-password" } });
    const eve = "Basic " + btoa("eve:eve-password");
    const asEve = (path: string, method = "GET", json?: unknown) =>
      fetch(c.url + path, { method, headers: { authorization: eve, "content-type": "application/json" }, body: json === undefined ? undefined : JSON.stringify(json) });
    const adminJob = await c.submit({ commandLine: "true", holds: ["USER"] });
    expect((await asEve(`/rest/jobs/${adminJob}`)).status).toBe(404);
    expect((await asEve(`/rest/jobs/${adminJob}/cancel`, "PUT")).status).toBe(404);
    expect((await asEve(`/rest/jobs/${adminJob}`, "PUT", { name: "mine" })).status).toBe(404);
    expect((await asEve(`/rest/jobs/${adminJob}`, "DELETE")).status).toBe(404);
    const list = (await (await asEve("/rest/jobs")).json()) as { results: any[] };
    expect(list.results.every((j) => j.user === "eve")).toBe(true);
    expect((await asEve("/rest/jobs?proxy-user=adaptive", "POST", { commandLine: "true" })).status).toBe(403);
    expect((await asEve("/rest/jobs", "POST", { commandLine: "true", user: "adaptive" })).status).toBe(403);
    const own = await asEve("/rest/jobs", "POST", { commandLine: "true", holds: ["USER"] });
    expect(own.status).toBe(201);
    const ownId = ((await own.json()) as { id: string }).id;
    expect((await asEve(`/rest/jobs/${ownId}/hold`, "PUT", { holds: ["SYSTEM"] })).status).toBe(403);
    expect((await asEve(`/rest/jobs/${ownId}/unhold`, "PUT")).status).toBe(200);
    const proxied = await c.json<{ id: string }>("/rest/jobs?proxy-user=eve", { method: "POST", json: { commandLine: "true" } });
    expect((await c.job(proxied.id)).user).toBe("eve");
    expect((await asEve(`/rest/jobs/${proxied.id}`)).status).toBe(200);
    expect((await c.api("/rest/jobs?proxy-user=nobody", { method: "POST", json: { commandLine: "true" } })).status).toBe(400);
    await put(`/rest/jobs/${adminJob}/cancel`);
  }, 60_000);

  test("a job from a template runs after the job of its template dependency", async () => {
    const stamp = (file: string) => `-c "sleep 0.2; date +%s%N > ${join(work, file)}"`;
    expect((await c.api("/rest/job-templates", { method: "POST", json: { id: "stage-in", commandFile: "/bin/sh", args: stamp("stage-in"), select: false } })).status).toBe(201);
    const main = { id: "analysis", commandFile: "/bin/sh", args: stamp("analysis"), durationRequested: 120, jobDependencies: [{ name: "stage-in", type: "JOBSUCCESSFULCOMPLETE" }] };
    expect((await c.api("/rest/job-templates", { method: "POST", json: main })).status).toBe(201);
    const id = await c.submit({ templateList: ["analysis"], initialWorkingDirectory: work });
    const j = await c.waitForState(id, ["COMPLETED"], 60_000);
    expect(j.durationRequested).toBe(120);
    const setup = await c.waitForState(j.dependencies[0], ["COMPLETED"]);
    expect(setup.name).toBe("stage-in");
    const at = (f: string) => BigInt(readFileSync(join(work, f), "utf8").trim());
    expect(at("stage-in") < at("analysis")).toBe(true);
  }, 60_000);

  test("pending actions: a dispatch, suspend and cancel are listed until the agent confirms them", async () => {
    const agent = c.agents.get("node-c")!.proc;
    const actionsFor = async (id: string) => (await c.json<{ results: any[] }>("/rest/pending-actions")).results.filter((a) => a.jobId === id);
    const confirmed = (id: string, what: string) => until(async () => ((await actionsFor(id)).length === 0 ? true : undefined), 15_000, what);
    // a stopped agent process keeps its stream but answers nothing: what is sent to it stays pending
    agent.kill("SIGSTOP");
    let id: string;
    try {
      id = await c.submit({ commandLine: "sleep 60", hosts: ["node-c"] });
      const [dispatch] = await until(async () => {
        const a = await actionsFor(id);
        return a.length ? a : undefined;
      }, 10_000, "the dispatch to be pending");
      expect(dispatch).toMatchObject({ pendingActionType: "DISPATCH", pendingActionState: "RUNNING", hosts: ["node-c"], requester: "drover", motivation: "scheduled by drover", maxDurationInSeconds: 60 });
      expect(dispatch.id).toMatch(/^dispatch-\d+$/);
      expect(dispatch.startTime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
    } finally {
      agent.kill("SIGCONT");
    }
    await confirmed(id, "the agent to confirm the start");
    await c.waitForState(id, ["RUNNING"]);

    agent.kill("SIGSTOP");
    try {
      expect((await put(`/rest/jobs/${id}/suspend`)).status).toBe(200);
      expect((await actionsFor(id)).map((a) => [a.pendingActionType, a.requester])).toEqual([["SUSPEND", "admin"]]);
    } finally {
      agent.kill("SIGCONT");
    }
    await confirmed(id, "the agent to confirm the suspension");
    expect((await put(`/rest/jobs/${id}/resume`)).status).toBe(200);
    await confirmed(id, "the agent to confirm the resumption");

    agent.kill("SIGSTOP");
    try {
      expect((await put(`/rest/jobs/${id}/cancel`)).status).toBe(200);
      expect((await actionsFor(id)).map((a) => a.pendingActionType)).toEqual(["CANCEL"]);
      // another user sees none of it
      await c.json("/auth/users", { method: "POST", json: { username: "mallory", password: "mallory-password" } });
      const asMallory = await fetch(c.url + "/rest/pending-actions", { headers: { authorization: "Basic " + btoa("mallory:mallory-password") } });
      expect(((await asMallory.json()) as any).totalCount).toBe(0);
    } finally {
      agent.kill("SIGCONT");
    }
    await c.waitForState(id, ["REMOVED"]);
    await confirmed(id, "the agent to confirm the cancellation");
  }, 90_000);

  test("a job sent to a busy node waits in its backlog, starts when a processor frees, and a backlogged job can be cancelled", async () => {
    const cores = (await c.json("/rest/nodes/node-a")).totalProcessors as number;
    const busy = await Promise.all(Array.from({ length: cores }, () => c.submit({ commandLine: "sleep 5", hosts: ["node-a"] })));
    for (const id of busy) await c.waitForState(id, ["RUNNING"]);
    const next = await c.submit({ commandLine: "true", hosts: ["node-a"] });
    const doomed = await c.submit({ commandLine: "true", hosts: ["node-a"] });
    // sent to node-a although all its processors are taken: STARTING, not IDLE
    await c.waitForState(next, ["STARTING"], 10_000);
    expect((await c.job(busy[0]!)).state).toBe("RUNNING");
    await c.waitForState(doomed, ["STARTING"], 10_000);
    expect((await put(`/rest/jobs/${doomed}/cancel`)).status).toBe(200);
    const removed = await c.waitForState(doomed, ["REMOVED"]);
    expect(removed.startCount).toBe(0);
    const done = await c.waitForState(next, ["COMPLETED"], 30_000);
    expect(done.startCount).toBe(1);
    const firstEnd = Math.min(...(await Promise.all(busy.map(async (id) => Date.parse((await c.waitForState(id, ["COMPLETED"])).completionDate.replace(" UTC", "Z"))))));
    expect(Date.parse(done.startDate.replace(" UTC", "Z"))).toBeGreaterThanOrEqual(firstEnd - 1000);
    if (url()) {
      // the agent hands a job back after waiting 2 s (scheduler.backlogWaitMs) and it is sent again
      const sql = postgres(url(), { max: 1 });
      const [row] = await sql`select count(*)::int as n from job_events where job_id = ${Number(next.replace("drover.", ""))} and kind = 'returned'`;
      await sql.end();
      expect(row!.n).toBeGreaterThan(0);
    }
  }, 60_000);

  test("losing a node of a multi-node job stops the job on its master and records why", async () => {
    const id = await c.submit({ commandLine: "sleep 120", hosts: ["node-b", "node-c"] });
    const running = await c.waitForState(id, ["RUNNING"]);
    expect(running.masterHost).toBe("node-b");
    await c.killAgent("node-c");
    const lost = await c.waitForState(id, ["VACATED"], 30_000);
    expect(messagesOf(lost).some((m) => m.includes("node node-c, one of the job's nodes, was lost"))).toBe(true);
    // the master's process was really stopped (the job did not wait for its 120 s)
    expect(lost.activeDuration).toBeLessThan(60);
    expect((await c.json<{ results: any[] }>("/rest/pending-actions")).results.filter((a) => a.jobId === id)).toEqual([]);
    await c.startAgent("node-c");
  }, 90_000);
});
