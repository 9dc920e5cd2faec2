// Queues (Moab's classes), QoS levels and accounts on a real cluster: an administrator defines
// them in DROVER_HOME/etc/queues.yaml (read again when it changes); MWS submissions choose them
// (queue, qosRequested, account); the scheduler honours their priorities and limits; accounts are
// charged processor-seconds.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const QUEUES = `
queues:
  batch:
    default: true
    defaultWalltime: 1h
    maxWalltime: 2h
    priority: 10
  private:
    users: [someone-else]
qos:
  highprio:
    priority: 100
    maxRunningPerUser: 2
`;

await forEachDatabaseUrl("queues, QoS and accounts", (url) => {
  let c: Cluster;
  let file: string;
  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url() });
    mkdirSync(join(c.home, "etc"), { recursive: true });
    file = join(c.home, "etc", "queues.yaml");
    writeFileSync(file, QUEUES);
    await c.startController();
    await c.startAgent("node-a", { args: ["--cpus", "4"] });
  }, 90_000);
  afterAll(() => c.stop());

  const post = async (json: Record<string, unknown>) => {
    const res = await c.api("/rest/jobs", { method: "POST", json });
    return { status: res.status, body: (await res.json()) as { id?: string; messages?: string[] } };
  };

  test("a job goes to the default queue, takes its walltime and priority, and its QoS's; GET shows queue, qos and account", async () => {
    const res = await post({ commandLine: "true", qosRequested: "highprio", account: "proj-1", userPriority: 5, holds: ["USER"] });
    expect(res.status).toBe(201);
    const job = await c.job(res.body.id!);
    expect(job).toMatchObject({ queue: "batch", qos: "highprio", qosRequested: "highprio", account: "proj-1", durationRequested: 3600, userPriority: 5, startPriority: 115 });
    // the user's priority changes; the queue's and QoS's boost stays
    expect((await c.api(`/rest/jobs/${res.body.id}`, { method: "PUT", json: { userPriority: 7 } })).status).toBe(200);
    expect(await c.job(res.body.id!)).toMatchObject({ userPriority: 7, startPriority: 117 });
    await c.api(`/rest/jobs/${res.body.id}`, { method: "DELETE" });
  }, 30_000);

  test("an unknown queue or QoS is a 400 naming it, a queue not open to the user a 403, a walltime over the queue's maximum a 400", async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ queue: "nowhere" }, 400, 'Queue "nowhere" does not exist (queues: batch, private)'],
      [{ qosRequested: "gold" }, 400, 'QoS "gold" does not exist (QoS: highprio)'],
      [{ queue: "private" }, 403, "Queue private is not open to user admin"],
      [{ durationRequested: 3 * 3600 }, 400, "longer than queue batch allows (2 h)"],
    ];
    for (const [extra, status, why] of cases) {
      const res = await post({ commandLine: "true", ...extra });
      expect({ extra, status: res.status }).toEqual({ extra, status });
      expect(res.body.messages![0]).toContain(why);
    }
  });

  test("a QoS's limit of running jobs per user holds under 50 submissions, and every job completes; the account is charged", async () => {
    const ids: string[] = [];
    const res = await c.api("/rest/jobs", { method: "POST", json: Array.from({ length: 50 }, () => ({ commandFile: "/bin/sleep", commandLineArguments: "0.2", qosRequested: "highprio", account: "proj-2" })) });
    expect(res.status).toBe(201);
    for (const j of (await res.json()) as { id: string }[]) ids.push(j.id);
    let most = 0;
    let waitingReason = "";
    await until(async () => {
      const running = ((await c.json("/jobs?state=dispatching,running&limit=100")) as { jobs: unknown[] }).jobs.length;
      most = Math.max(most, running);
      if (!waitingReason) {
        const waiting = await c.job(ids.at(-1)!);
        waitingReason = waiting.blockReason?.message ?? "";
      }
      const done = ((await c.json("/jobs?state=completed&limit=100&q=")) as { jobs: { id: number }[] }).jobs.filter((j) => ids.includes(`drover.${j.id}`)).length;
      return done === 50 ? true : undefined;
    }, 60_000, "the 50 jobs to complete");
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBeGreaterThan(0);
    expect(waitingReason).toContain("QoS highprio allows 2 of its user's jobs on nodes at once");
    const accounts = (await c.json("/accounting/accounts")) as { account: string; jobs: number; processorSeconds: number }[];
    const charged = accounts.find((a) => a.account === "proj-2")!;
    expect(charged.jobs).toBe(50);
    expect(charged.processorSeconds).toBeGreaterThan(50 * 0.15);
  }, 90_000);

  test("administrators see the queues; a changed file is read again", async () => {
    const seen = (await c.json("/queues")) as { queues: { name: string; default: boolean; maxWalltimeMs: number }[]; qos: { name: string; maxRunningPerUser: number }[] };
    expect(seen.queues.map((q) => q.name)).toEqual(["batch", "private"]);
    expect(seen.qos).toEqual([expect.objectContaining({ name: "highprio", priority: 100, maxRunningPerUser: 2 })]);
    await c.json("/auth/users", { method: "POST", json: { username: "quser", password: "a-password-1" } });
    const asUser = await fetch(`${c.url}/queues`, { headers: { authorization: "Basic " + btoa("quser:a-password-1") } });
    expect(asUser.status).toBe(403);
    writeFileSync(file, QUEUES.replace("qos:", "  later:\n    priority: 1\nqos:"));
    await until(async () => ((await post({ commandLine: "true", queue: "later" })).status === 201 ? true : undefined), 10_000, "the new queue to be read");
  }, 30_000);
});
