// Users are confined to their own work, table-driven from the route list: every documented route
// that names an object is in the table below (a new one fails this test until it is added), and
// for each, another user's object is "not found" (or forbidden, for administrators' routes) by
// every method — and is left as it was — while an administrator sees it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { forEachDatabase } from "../../helpers/databases.ts";
import { startTestController, type TestController } from "../../helpers/controller.ts";
import { exampleApps } from "../../../controller/src/apps/example-apps.ts";
import { create, RegisterSchema } from "@drover/proto/service";
import { registerNode } from "../../../controller/src/nodes/register-node.ts";

type Kind = "job" | "wr-job" | "caesar-job" | "file" | "launch" | "report" | "user" | "agent-token" | "node" | "reservation" | "shared";
/**
 * How a user other than the owner is answered: 404 (never revealing the object), 403
 * (administrators' routes), "empty" (wr answers a look-up by keys with the jobs it found: none),
 * a shared object anyone may read, or one anyone may read and only administrators change
 * ("read-only": GET 200, every other method 403).
 */
type Refusal = 404 | 403 | "shared" | "empty" | "read-only";

const TABLE: Record<string, { kind: Kind; other: Refusal; adminSees?: boolean; body?: unknown }> = {
  "/auth/users/{username}": { kind: "user", other: 403 },
  "/auth/agent-tokens/{id}": { kind: "agent-token", other: 403 },
  "/apps/{name}": { kind: "shared", other: "shared" },
  "/jobs/{id}": { kind: "job", other: 404 },
  "/jobs/{id}/{action}": { kind: "job", other: 404 },
  "/rest/v1/jobs/{ids}": { kind: "wr-job", other: "empty" },
  "/caesar/api/v1.0/download/{uuid}": { kind: "file", other: 404 },
  // (caesar's GET deletes and cancels: an administrator's look would change them)
  "/caesar/api/v1.0/delete/{uuid}": { kind: "file", other: 404, adminSees: false },
  "/caesar/api/v1.0/app/{name}/describe": { kind: "shared", other: "shared" },
  "/caesar/api/v1.0/job/{id}/status": { kind: "caesar-job", other: 404 },
  "/caesar/api/v1.0/job/{id}/output": { kind: "caesar-job", other: 404, adminSees: false },
  "/caesar/api/v1.0/job/{id}/cancel": { kind: "caesar-job", other: 404, adminSees: false },
  "/mdworkbench/service/{id}": { kind: "shared", other: "shared" },
  "/mdworkbench/launch/{id}/result": { kind: "launch", other: 404, adminSees: false },
  "/mdworkbench/launch/{id}/result/*": { kind: "launch", other: 404, adminSees: false },
  "/mdworkbench/launch/{id}": { kind: "launch", other: 404 },
  "/rest/jobs/active/{id}": { kind: "job", other: 404 },
  "/rest/jobs/complete/{id}": { kind: "job", other: 404, adminSees: false },
  "/rest/jobs/{id}": { kind: "job", other: 404 },
  "/rest/jobs/{id}/{action}": { kind: "job", other: 404 },
  "/rest/job-templates/{id}": { kind: "shared", other: "shared" },
  "/rest/nodes/{id}": { kind: "node", other: "read-only", body: { state: "Drained" } },
  "/rest/reservations/{id}": { kind: "reservation", other: "read-only", body: { variables: { a: "b" } } },
  "/rest/reservations/{id}/acl-rules": { kind: "reservation", other: "read-only", body: { aclRules: [{ type: "USER", value: "bob" }] } },
  "/rest/reservations/{id}/acl-rules/{aclId}": { kind: "reservation", other: "read-only" },
  "/rest/standing-reservations/{id}": { kind: "shared", other: "shared" },
  "/rest/reports/{id}": { kind: "report", other: 404 },
  "/rest/reports/{id}/datapoints": { kind: "report", other: 404 },
  "/rest/reports/{id}/samples": { kind: "report", other: 404, body: { data: { x: 1 } } },
};
// the same routes under /mws
for (const [path, entry] of Object.entries(TABLE)) if (path.startsWith("/rest/") && !path.startsWith("/rest/v1/")) TABLE[`/mws${path}`] = entry;

await forEachDatabase("confinement, from the route list", (database) => {
  let c: TestController;
  let admin = "";
  let alice = "";
  let bob = "";
  const ids: Record<Kind, string> = { job: "", "wr-job": "", "caesar-job": "", file: "", launch: "", report: "", user: "alice", "agent-token": "", node: "n1", reservation: "", shared: "x" };
  const as = (token: string, method: string, path: string, body?: unknown) =>
    c.request(path, { method, token, ...(body === undefined ? {} : typeof body === "string" || body instanceof FormData ? { body } : { json: body }) });

  beforeAll(async () => {
    c = await startTestController(database());
    admin = await c.adminToken();
    alice = await c.userToken("alice");
    bob = await c.userToken("bob");
    for (const app of exampleApps) await as(admin, "PUT", `/apps/${app.name}`, app);
    // alice's objects, one of each kind (no agent: her jobs stay queued)
    ids.job = String(((await (await as(alice, "POST", "/rest/jobs", { commandFile: "/bin/true" })).json()) as { id: string }).id).replace(/\D/g, "");
    const wr = (await (await as(alice, "POST", "/rest/v1/jobs/?rep_grp=mine", [{ cmd: "true" }])).json()) as { Key: string }[];
    ids["wr-job"] = wr[0]!.Key;
    const form = new FormData();
    form.append("file", new File([JSON.stringify({ words: ["one", "two"] })], "words.json"));
    ids.file = ((await (await as(alice, "POST", "/caesar/api/v1.0/upload", form)).json()) as { uuid: string }).uuid;
    ids["caesar-job"] = ((await (await as(alice, "POST", "/caesar/api/v1.0/job", { app: "wordcount", job_inputs: { inputfile: ids.file } })).json()) as { job_id: string }).job_id;
    ids.launch = ((await (await c.request("/mdworkbench/launch?id=sleeper", { method: "POST", token: alice, headers: { seconds: "1" } })).json()) as { id: string }).id;
    ids.report = String(((await (await as(alice, "POST", "/rest/reports", { name: "alices", datapointDuration: 60, reportSize: 10 })).json()) as { id: string }).id);
    ids["agent-token"] = String(((await (await as(admin, "POST", "/auth/agent-tokens", { name: "x" })).json()) as { id: number }).id);
    // a node (registered as its agent would) and an administrator's reservation of it
    await registerNode(database().db, create(RegisterSchema, { nodeName: "n1", hostname: "n1", cores: 2, memoryBytes: 1n << 30n }), "t");
    ids.reservation = ((await (await as(admin, "POST", "/rest/reservations", { hostListExpression: "n1", startDate: new Date(Date.now() + 3_600_000).toISOString(), duration: 60 })).json()) as { id: string }).id;
    for (const [kind, id] of Object.entries(ids)) if (!id) throw new Error(`no ${kind} was made`);
  });
  afterAll(() => c.stop());

  test("every route that names an object is in the table", async () => {
    const doc = (await (await c.request("/docs/json")).json()) as { paths: Record<string, unknown> };
    const named = Object.keys(doc.paths).filter((p) => /[{*]/.test(p));
    expect(named.filter((p) => !TABLE[p])).toEqual([]);
  });

  test("another user's object is not found (or forbidden) by every method and stays; an administrator sees it", async () => {
    const doc = (await (await c.request("/docs/json")).json()) as { paths: Record<string, Record<string, unknown>> };
    const checked: string[] = [];
    for (const [path, entry] of Object.entries(TABLE)) {
      if (entry.other === "shared") continue;
      const concrete = path
        .replace("{action}", "cancel")
        .replace("*", "out.txt")
        .replace(/\{[^}]+\}/, encodeURIComponent(ids[entry.kind]))
        .replace("{aclId}", encodeURIComponent(`RESERVATION_ID:${ids.reservation}`));
      for (const method of Object.keys(doc.paths[path] ?? {}).map((m) => m.toUpperCase())) {
        // a body the route would take from its owner: only confinement decides
        const body = method === "PUT" && path.includes("{action}") ? undefined : method === "PUT" || method === "POST" || method === "PATCH" ? (entry.body ?? {}) : undefined;
        const res = await as(bob, method, concrete, body);
        if (entry.other === "read-only") {
          expect({ route: `${method} ${path}`, status: res.status }).toEqual({ route: `${method} ${path}`, status: method === "GET" ? 200 : 403 });
        } else if (entry.other === "empty") {
          // wr: the jobs found (none), whatever the method (DELETE with the state wr asks for)
          const wr = method === "DELETE" ? await as(bob, method, `${concrete}?state=deletable`) : res;
          expect({ route: `${method} ${path}`, status: wr.status, body: await wr.json() }).toEqual({ route: `${method} ${path}`, status: 200, body: [] });
        }
        else expect({ route: `${method} ${path}`, status: res.status }).toEqual({ route: `${method} ${path}`, status: entry.other });
        checked.push(`${method} ${path}`);
      }
      if (entry.adminSees !== false && (entry.other === 404 || entry.other === "empty") && doc.paths[path]?.get) {
        const res = await as(admin, "GET", concrete);
        expect({ route: `admin GET ${path}`, status: res.status }).toEqual({ route: `admin GET ${path}`, status: 200 });
      }
    }
    expect(checked.length).toBeGreaterThanOrEqual(40);
    // nothing bob tried changed alice's objects
    expect((await as(alice, "GET", `/jobs/${ids.job}`)).status).toBe(200);
    expect(((await (await as(alice, "GET", `/jobs/${ids.job}`)).json()) as { state: string }).state).toBe("queued");
    expect((await as(alice, "GET", `/caesar/api/v1.0/download/${ids.file}`)).status).toBe(200);
    expect((await as(alice, "GET", `/rest/reports/${ids.report}`)).status).toBe(200);
    expect(((await (await as(alice, "GET", `/mdworkbench/launch/${ids.launch}`)).json()) as { state: string }).state).toBe("waiting");
    expect((await as(alice, "GET", `/rest/v1/jobs/${ids["wr-job"]}`)).status).toBe(200);
    expect(await (await as(admin, "GET", `/rest/nodes/n1`)).json()).toMatchObject({ state: expect.not.stringMatching(/^Drain/) });
    expect(await (await as(admin, "GET", `/rest/reservations/${ids.reservation}`)).json()).toMatchObject({ variables: {}, aclRules: [{ type: "RESERVATION_ID" }] });
  });
});
