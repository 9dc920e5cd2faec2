// MWS reservations (3.11), their ACL rules (3.1) and node modification (3.6.2) on a real
// cluster: a reservation keeps the jobs it does not admit off its nodes, and those it admits
// (by ACL rule, or because they asked for it) run there; a job whose walltime would run into a
// reservation waits while a short one backfills; draining a node lets its job finish and starts
// nothing new there. Bad payloads are 400s naming what is wrong, and create nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

// The fields of the seed's samples (MWS 3.11.1.2, 3.14.1.2, 3.6.1.2), sorted
const RESERVATION_KEYS = [
  "accountingAccount", "accountingGroup", "accountingQOS", "accountingUser", "aclRules", "allocatedNodeCount",
  "allocatedNodes", "allocatedProcessorCount", "allocatedTaskCount", "comments", "creationDate", "duration",
  "endDate", "excludeJobs", "expireDate", "flags", "globalId", "hostListExpression", "id", "idPrefix", "isActive",
  "isTracked", "label", "maxTasks", "messages", "owner", "partitionId", "profile", "requirements",
  "reservationGroup", "resources", "startDate", "statistics", "subType", "taskCount", "trigger", "triggerIds",
  "uniqueIndex", "variables",
];
const STANDING_RESERVATION_KEYS = [
  "access", "accounts", "aclRules", "chargeAccount", "chargeUser", "classes", "clusters", "comment", "days", "depth",
  "disabled", "endTime", "flags", "groups", "hosts", "id", "jobAttributes", "maxJob", "maxTime", "messages",
  "nodeFeatures", "os", "owner", "partition", "period", "procLimit", "psLimit", "qoses", "reservationAccessList",
  "reservationGroup", "resources", "rollbackOffset", "startTime", "taskCount", "tasksPerNode", "timeLimit",
  "triggers", "type", "users",
];
const NODE_KEYS = [
  "accessPolicy", "aliases", "architecture", "availableClasses", "availableDisk", "availableEndDate",
  "availableGenericResources", "availableMemory", "availableProcessors", "availableStartDate", "availableSwap",
  "blockReason", "comments", "configuredClasses", "cpuLoad", "dynamic", "externalLoad", "features", "flags",
  "genericEvents", "genericMetrics", "genericResources", "hypervisorType", "iOLoad", "id", "index", "jobs",
  "lastStateUpdateDate", "lastUpdateDate", "maxIOIn", "maxIOLoad", "maxIOOut", "maxJob", "maxJobPerUser", "maxLoad",
  "maxPEPerJob", "maxPageIn", "maxPageOut", "maxProc", "maxProcPerClass", "messages", "network", "networkAddress",
  "networkLoad", "nextOS", "operations", "os", "osList", "overcommit", "partition", "power", "powerPolicy",
  "powerSelected", "priority", "priorityFunction", "procSpeed", "profilingEnabled", "rack", "reservationCount",
  "reservations", "rmAccessList", "size", "slot", "speed", "speedWeight", "state", "substate", "taskCount",
  "totalActiveTime", "totalAvailableTime", "totalDisk", "totalMemory", "totalProcessors", "totalStatsTime",
  "totalSwap", "totalUpTime", "type", "variables", "version", "virtualMachines", "vmOsList",
];

await forEachDatabaseUrl("MWS reservations and node modification", (url) => {
  let c: Cluster;
  const as = (user: string) => ({ authorization: "Basic " + btoa(`${user}:a-password-1`), "content-type": "application/json" });
  const submitAs = async (user: string, job: Record<string, unknown>) => {
    const res = await fetch(`${c.url}/mws/rest/jobs`, { method: "POST", headers: as(user), body: JSON.stringify(job) });
    return { status: res.status, body: (await res.json()) as { id?: string; messages?: string[] } };
  };
  const reserve = async (json: Record<string, unknown>) => {
    const res = await c.api("/mws/rest/reservations", { method: "POST", json });
    return { status: res.status, body: (await res.json()) as { id?: string; messages?: string[] } };
  };
  const sleeper = (seconds: number, walltime: number) => ({ commandFile: "/bin/sleep", commandLineArguments: String(seconds), durationRequested: walltime });

  beforeAll(async () => {
    c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_BACKLOG: "0" } });
    await c.startController();
    await Promise.all([c.startAgent("node01", { args: ["--cpus", "2"] }), c.startAgent("node02", { args: ["--cpus", "2"] })]);
    for (const u of ["alice", "bob"]) await c.json("/auth/users", { method: "POST", json: { username: u, password: "a-password-1" } });
    await c.json("/auth/users/alice", { method: "PATCH", json: { groups: ["staff"] } });
  }, 90_000);
  afterAll(async () => {
    await c.stop();
  });

  test("bad payloads are 400s naming what is wrong; users may not create; nothing is created", async () => {
    const hour = new Date(Date.now() + 3_600_000).toISOString();
    const cases: [Record<string, unknown>, string][] = [
      [{ hostListExpression: "node01", flags: ["DEDICATEDRESOURCE", "TIMEFLEX"] }, "does not honour the flag TIMEFLEX"],
      [{ hostListExpression: "node01", startDate: hour, endDate: new Date(Date.now() + 60_000).toISOString() }, "is not after startDate"],
      [{ hostListExpression: "node[01-03]" }, "node03 is not a node of this cluster"],
      [{ hostListExpression: "node[04-01]" }, "runs backwards"],
      [{ hostListExpression: "node01", trigger: { eventType: "START", actionType: "EXEC", action: "date" } }, '"trigger"'],
      [{ hostListExpression: "node01", colour: "blue" }, 'Invalid field "colour"'],
      [{ hostListExpression: "node01", aclRules: [{ type: "PLANET", value: "mars" }] }, '"PLANET" is not a rule type'],
      [{ hostListExpression: "node01", aclRules: [{ type: "DURATION", value: "3600", comparator: "LEXIGRAPHIC_EQUAL" }] }, "does not apply to DURATION rules"],
      [{ flags: ["SPACEFLEX"] }, "Say what to reserve"],
    ];
    for (const [json, why] of cases) {
      const res = await reserve(json);
      expect({ json, status: res.status }).toEqual({ json, status: 400 });
      expect(res.body.messages![0]).toContain(why);
    }
    const asBob = await fetch(`${c.url}/mws/rest/reservations`, { method: "POST", headers: as("bob"), body: JSON.stringify({ hostListExpression: "node01" }) });
    expect(asBob.status).toBe(403);
    expect((await c.json("/mws/rest/reservations")).totalCount).toBe(0);
  });

  test("a reservation keeps others off its node; its ACL admits by user, group and duration; a job may ask for it; release frees it", async () => {
    const created = await reserve({
      hostListExpression: "node[01]", duration: 3600, flags: ["DEDICATEDRESOURCE"], idPrefix: "grid",
      aclRules: [{ type: "USER", value: "alice", comparator: "LEXIGRAPHIC_EQUAL", affinity: "POSITIVE" }], variables: { purpose: "test" },
    });
    expect(created.status).toBe(201);
    const id = created.body.id!;
    expect(id).toBe("grid.1");
    const r = await c.json(`/mws/rest/reservations/${id}`);
    expect(Object.keys(r).sort()).toEqual(RESERVATION_KEYS);
    expect(r).toMatchObject({ id, allocatedNodes: [{ id: "node01" }], allocatedProcessorCount: 2, flags: ["DEDICATEDRESOURCE", "ISACTIVE"], isActive: true, owner: { name: "admin", type: "USER" }, variables: { purpose: "test" } });
    expect(r.aclRules).toContainEqual({ type: "RESERVATION_ID", value: id, comparator: "LEXIGRAPHIC_EQUAL", affinity: "NEUTRAL" });
    // the node shows it
    expect(await c.json("/mws/rest/nodes/node01")).toMatchObject({ reservationCount: 1, reservations: [{ id }] });
    // a second reservation over the same node in the same window conflicts
    const clash = await reserve({ hostListExpression: "node01", duration: 60 });
    expect(clash.status).toBe(400);
    expect(clash.body.messages![0]).toContain(`reservation ${id} holds`);

    // bob's two-processor jobs: the first takes node02, the second waits (node01 is reserved)
    const b1 = await submitAs("bob", sleeper(20, 60));
    await c.waitForState(b1.body.id!, ["RUNNING"]);
    expect((await c.job(b1.body.id!)).masterHost).toBe("node02");
    // its walltime runs into a reservation of node02 beginning in 10 s: a conflict, unless the job is excluded
    const soon = { hostListExpression: "node02", startDate: new Date(Date.now() + 10_000).toISOString(), duration: 60 };
    const conflict = await reserve(soon);
    expect(conflict.status).toBe(400);
    expect(conflict.body.messages![0]).toContain(`job ${b1.body.id!.replace("drover.", "")} holds 1 processor there until`);
    const excluded = await reserve({ ...soon, excludeJobs: [b1.body.id!] });
    expect(excluded.status).toBe(201);
    await c.json(`/mws/rest/reservations/${excluded.body.id}`, { method: "DELETE" });
    const b2 = await submitAs("bob", { ...sleeper(1, 60), requirements: [{ requiredProcessorCountMinimum: 2 }] });
    await c.waitForBlockReason(b2.body.id!, `reservation ${id} holds node01`);
    // alice is admitted by her rule; bob asking for it is admitted by its RESERVATION_ID rule
    const a1 = await submitAs("alice", { ...sleeper(0, 60), requirements: [{ requiredProcessorCountMinimum: 2 }] });
    expect((await c.waitForState(a1.body.id!, ["COMPLETED"])).masterHost).toBe("node01");
    const b3 = await submitAs("bob", { ...sleeper(0, 60), reservationRequested: id });
    const done = await c.waitForState(b3.body.id!, ["COMPLETED"]);
    expect(done).toMatchObject({ masterHost: "node01", reservationRequested: id });
    expect(done.reservationStartDate).toBe(r.startDate);
    // an unknown reservation is refused at submission
    const unknown = await submitAs("bob", { ...sleeper(0, 60), reservationRequested: "grid.99" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.messages![0]).toContain('Reservation "grid.99" does not exist');

    // rules: by group, and by duration (jobs of at most 600 s); deleting the RESERVATION_ID rule stops asking from admitting
    const acl = await c.api(`/mws/rest/reservations/${id}/acl-rules`, { method: "PUT", json: { aclRules: [{ type: "DURATION", value: "600", comparator: "LESS_THAN_OR_EQUAL" }, { type: "GROUP", value: "staff" }] } });
    expect(acl.status).toBe(200);
    expect(((await c.json(`/mws/rest/reservations/${id}`)).aclRules as unknown[]).length).toBe(4);
    const short = await submitAs("bob", { ...sleeper(0, 300), requirements: [{ requiredProcessorCountMinimum: 2 }] });
    expect((await c.waitForState(short.body.id!, ["COMPLETED"])).masterHost).toBe("node01");
    expect((await c.api(`/mws/rest/reservations/${id}/acl-rules/RESERVATION_ID:${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await c.api(`/mws/rest/reservations/${id}/acl-rules/USER:nobody`, { method: "DELETE" })).status).toBe(404);
    // a rule's id is decoded once, as every path parameter is: "%" in a value is kept, and a lone
    // "%" is a rule that is not there, not a server error
    expect((await c.api(`/mws/rest/reservations/${id}/acl-rules`, { method: "PUT", json: { aclRules: [{ type: "GROUP", value: "lab%41" }] } })).status).toBe(200);
    expect((await c.api(`/mws/rest/reservations/${id}/acl-rules/${encodeURIComponent("GROUP:lab%41")}`, { method: "DELETE" })).status).toBe(200);
    expect(((await c.json(`/mws/rest/reservations/${id}`)).aclRules as { value: string }[]).map((r) => r.value)).not.toContain("lab%41");
    const lone = await c.api(`/mws/rest/reservations/${id}/acl-rules/USER:a%25b`, { method: "DELETE" });
    expect({ status: lone.status, body: await lone.json() }).toEqual({ status: 404, body: { messages: [expect.stringContaining("USER:a%b")] } });
    const refused = await submitAs("bob", { ...sleeper(0, 3600), reservationRequested: id });
    expect(refused.status).toBe(403);
    expect(refused.body.messages![0]).toContain("does not admit this job of bob");

    // variables: add, remove, set
    expect((await c.json(`/mws/rest/reservations/${id}?change-mode=add`, { method: "PUT", json: { variables: { a: "1" } } })).messages[0]).toContain("attribute 'Variable' changed");
    await c.json(`/mws/rest/reservations/${id}?change-mode=remove`, { method: "PUT", json: { variables: { purpose: "" } } });
    expect((await c.json(`/mws/rest/reservations/${id}`)).variables).toEqual({ a: "1" });
    expect((await c.api(`/mws/rest/reservations/${id}?change-mode=merge`, { method: "PUT", json: { variables: {} } })).status).toBe(400);

    // released: bob's waiting job starts on node01
    expect(await c.json(`/mws/rest/reservations/${id}`, { method: "DELETE" })).toEqual({});
    expect((await c.waitForState(b2.body.id!, ["COMPLETED"])).masterHost).toBe("node01");
    expect((await c.api(`/mws/rest/reservations/${id}`)).status).toBe(404);
    await c.waitForState(b1.body.id!, ["COMPLETED"], 60_000);
  }, 120_000);

  test("a job whose walltime would run into a coming reservation waits saying so; a short one backfills before it", async () => {
    const start = new Date(Date.now() + 40_000);
    const created = await reserve({ hostListExpression: "node01,node02", startDate: start.toISOString(), duration: 600 });
    expect(created.status).toBe(201);
    const long = await submitAs("bob", sleeper(1, 3600));
    await c.waitForBlockReason(long.body.id!, "its walltime would run into it");
    const quick = await submitAs("bob", sleeper(0, 5));
    await c.waitForState(quick.body.id!, ["COMPLETED"]);
    await c.json(`/mws/rest/reservations/${created.body.id}`, { method: "DELETE" });
    await c.waitForState(long.body.id!, ["COMPLETED"]);
  }, 60_000);

  test("draining a node through modify lets its running job finish and starts nothing new there; Idle brings it back", async () => {
    const running = await submitAs("bob", { ...sleeper(3, 60), hosts: ["node02"] });
    await c.waitForState(running.body.id!, ["RUNNING"]);
    const res = await c.json("/mws/rest/nodes/node02", { method: "PUT", json: { state: "Drained", messages: ["disk swap"], variables: { rack: "r1" }, genericMetrics: { temp: 41 }, genericEvents: [{ name: "fan", message: "slow" }] } });
    expect(res.messages.length).toBe(5);
    const node = await c.json("/mws/rest/nodes/node02");
    expect(Object.keys(node).sort()).toEqual(NODE_KEYS);
    expect(node).toMatchObject({ state: "Draining", messages: ["disk swap"], variables: { rack: "r1" }, genericMetrics: { temp: 41 }, genericEvents: [{ name: "fan", message: "slow" }] });
    expect(node.blockReason).toContain("drained by admin: disk swap");
    const pinned = await submitAs("bob", { ...sleeper(0, 60), hosts: ["node02"] });
    await c.waitForState(running.body.id!, ["COMPLETED"]);
    await Bun.sleep(1500);
    expect((await c.job(pinned.body.id!)).state).toBe("IDLE");
    expect((await c.json("/mws/rest/nodes/node02")).state).toBe("Drained");
    // refused by name
    for (const [json, why] of [[{ os: "linux" }, '"os"'], [{ power: "off" }, '"power"'], [{ state: "Down" }, "Down is what drover marks"]] as const) {
      const r = await c.api("/mws/rest/nodes/node02", { method: "PUT", json });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { messages: string[] }).messages[0]).toContain(why);
    }
    expect((await c.api("/mws/rest/nodes/nowhere", { method: "PUT", json: { state: "Idle" } })).status).toBe(404);
    expect((await fetch(`${c.url}/mws/rest/nodes/node02`, { method: "PUT", headers: as("bob"), body: JSON.stringify({ state: "Idle" }) })).status).toBe(403);
    await c.json("/mws/rest/nodes/node02", { method: "PUT", json: { state: "Idle" } });
    expect((await c.waitForState(pinned.body.id!, ["COMPLETED"])).masterHost).toBe("node02");
  }, 60_000);

  test("SINGLEUSE: released once the first job that ran in it ends", async () => {
    const created = await reserve({ hostListExpression: "node01", duration: 3600, flags: ["SINGLEUSE"] });
    expect(created.status).toBe(201);
    const job = await submitAs("bob", { ...sleeper(0, 60), reservationRequested: created.body.id });
    await c.waitForState(job.body.id!, ["COMPLETED"]);
    await until(async () => (await c.api(`/mws/rest/reservations/${created.body.id}`)).status === 404, 15_000, "the SINGLEUSE reservation to be released");
  }, 30_000);

  test("SPACEFLEX: a reservation made by requirements moves off a node that is drained before it begins", async () => {
    const created = await reserve({ requirements: { nodeCount: 1 }, startDate: new Date(Date.now() + 3_600_000).toISOString(), duration: 600, flags: ["SPACEFLEX"] });
    expect(created.status).toBe(201);
    const first = (await c.json(`/mws/rest/reservations/${created.body.id}`)).allocatedNodes[0].id as string;
    await c.json(`/mws/rest/nodes/${first}`, { method: "PUT", json: { state: "Drained" } });
    const other = first === "node01" ? "node02" : "node01";
    await until(async () => (await c.json(`/mws/rest/reservations/${created.body.id}`)).allocatedNodes[0].id === other, 15_000, "the reservation to move");
    await c.json(`/mws/rest/nodes/${first}`, { method: "PUT", json: { state: "Idle" } });
    await c.json(`/mws/rest/reservations/${created.body.id}`, { method: "DELETE" });
  }, 30_000);

  test("standing reservations come from DROVER_HOME/etc, are read-only over REST, and materialise as reservations whose ACL cannot be changed", async () => {
    // a daily hour beginning six hours from now (UTC), on node02
    const start = Math.floor(((Date.now() / 1000) % 86_400) + 6 * 3600) % 86_400;
    mkdirSync(join(c.home, "etc"), { recursive: true });
    writeFileSync(join(c.home, "etc", "standing-reservations.yaml"), `maint:\n  period: DAY\n  startTime: ${start}\n  endTime: ${start + 3600}\n  depth: 2\n  hosts: [node02]\n  users: [alice]\n  maxTime: 600\n  comment: nightly maintenance\n`);
    const sr = await until(async () => {
      const res = await c.api("/mws/rest/standing-reservations/maint");
      return res.status === 200 ? ((await res.json()) as Record<string, any>) : undefined;
    }, 15_000, "the standing reservation to be read");
    expect(Object.keys(sr).sort()).toEqual(STANDING_RESERVATION_KEYS);
    expect(sr).toMatchObject({ id: "maint", period: "DAY", startTime: start, endTime: start + 3600, depth: 2, hosts: ["node02"], users: ["alice"], comment: "nightly maintenance" });
    expect(sr.aclRules).toContainEqual({ type: "USER", value: "alice", comparator: "LEXIGRAPHIC_EQUAL", affinity: "POSITIVE" });
    expect((await c.json("/mws/rest/standing-reservations?fields=id")).results).toEqual([{ id: "maint" }]);
    const made = await until(async () => ((await c.json("/mws/rest/reservations")).results as { id: string }[]).find((r) => r.id.startsWith("maint.")), 15_000, "a reservation of it");
    for (const path of ["/mws/rest/reservations/maint/acl-rules", `/mws/rest/reservations/${made.id}/acl-rules`]) {
      const res = await c.api(path, { method: "PUT", json: { aclRules: [{ type: "USER", value: "bob" }] } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { messages: string[] }).messages[0]).toContain("standing");
    }
    expect((await c.api(`/mws/rest/reservations/${made.id}/acl-rules/USER:alice`, { method: "DELETE" })).status).toBe(400);
    expect((await c.api("/mws/rest/standing-reservations/nothing")).status).toBe(404);
    // gone from the file: its reservations that have not begun are released
    rmSync(join(c.home, "etc", "standing-reservations.yaml"));
    await until(async () => !((await c.json("/mws/rest/reservations")).results as { id: string }[]).some((r) => r.id.startsWith("maint.")), 15_000, "its reservations to be released");
  }, 60_000);
});
