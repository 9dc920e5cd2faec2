// MDWorkbench's launch API (seed 002) on a real cluster: services are drover's apps, launches
// its jobs; the Status-Location callback goes to an HTTP server of the test's own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { XMLParser } from "fast-xml-parser";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";
import { exampleApps } from "../../controller/src/apps/example-apps.ts";

await forEachDatabaseUrl("MDWorkbench's launch API", (url) => {
  let c: Cluster;
  const admin = { authorization: `Basic ${btoa("admin:cluster-admin-password")}` };
  const received: unknown[] = [];
  let sink: ReturnType<typeof Bun.serve>;
  const call = (method: string, path: string, init: { headers?: Record<string, string>; body?: FormData | string } = {}) =>
    fetch(c.url + path, { method, headers: { ...admin, ...init.headers }, body: init.body });
  const launch = async (path: string) => (await (await call("GET", path)).json()) as any;

  beforeAll(async () => {
    sink = Bun.serve({
      port: 0,
      async fetch(req) {
        received.push(await req.json());
        return new Response("thanks");
      },
    });
    c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_BACKLOG: "0" } });
    await c.startController();
    for (const app of exampleApps) await c.api(`/apps/${app.name}`, { method: "PUT", json: app });
    await c.startAgent("node-a", { args: ["--cpus", "1"] });
  }, 90_000);
  afterAll(async () => {
    sink.stop(true);
    await c.stop();
  });

  test("services are the apps, with their parameters", async () => {
    const services = (await (await call("GET", "/mdworkbench/service")).json()) as any[];
    expect(services.map((s) => s.id)).toEqual(expect.arrayContaining(["wordcount", "sleeper"]));
    const one = (await (await call("GET", "/mdworkbench/service/wordcount")).json()) as any;
    expect(one.parameters).toContainEqual({ name: "inputfile", type: "file", mandatory: true, description: "The file to count (a stored file's uuid)" });
  });

  test("a launch by multipart/form-data, with a file field: 200 with Content-Location; the launch in full once completed", async () => {
    const form = new FormData();
    form.append("inputfile", new File(["one two\nthree\n"], "words.txt"));
    form.append("lines", "true");
    const res = await call("POST", "/mdworkbench/launch?id=wordcount", { body: form });
    expect(res.status).toBe(200);
    const location = res.headers.get("content-location")!;
    expect(location).toMatch(new RegExp(`^${c.url}/mdworkbench/launch/\\d+$`));
    const first = (await res.json()) as any;
    expect(first).toMatchObject({ service: "wordcount", uri: location });
    const done = await until(async () => {
      const l = await launch(new URL(location).pathname);
      return l.state === "completed" ? l : undefined;
    }, 30_000, "the launch to complete");
    expect(done.arguments).toEqual(expect.arrayContaining([{ name: "lines", value: "true" }]));
    expect(done.status).toEqual(expect.arrayContaining([{ name: "exitCode", value: "0" }, { name: "node", value: "node-a" }]));
    expect(done.duration).toMatch(/^PT/);
    expect(done.requestTime).toMatch(/Z$/);
    expect(done.logEntries.map((e: any) => e.message)).toEqual(expect.arrayContaining(["launch requested", "started on node node-a", "completed"]));
  }, 60_000);

  test("a launch by headers, with a Status-Location that receives the final launch", async () => {
    const res = await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: "1", "status-location": `http://127.0.0.1:${sink.port}/done` } });
    expect(res.status).toBe(200);
    const id = ((await res.json()) as any).id;
    const posted = (await until(async () => received.find((r: any) => r.id === id), 30_000, "the callback")) as any;
    expect(posted).toMatchObject({ id, service: "sleeper", state: "completed", arguments: [{ name: "seconds", value: "1" }] });
    const after = await until(async () => {
      const l = await launch(`/mdworkbench/launch/${id}`);
      return l.logEntries.some((e: any) => e.message.startsWith("status posted")) ? l : undefined;
    }, 10_000, "the callback's log entry");
    expect(after.state).toBe("completed");
  }, 60_000);

  test("the queue: 401 without credentials, 403 for a user, running launches first for an admin; a waiting launch can be cancelled", async () => {
    expect((await fetch(`${c.url}/mdworkbench/launch`)).status).toBe(401);
    expect((await fetch(`${c.url}/mdworkbench/launch`, { headers: { authorization: `Basic ${btoa("admin:wrong")}` } })).status).toBe(401);
    await c.json("/auth/users", { method: "POST", json: { username: "mdw", password: "mdw-password" } });
    expect((await fetch(`${c.url}/mdworkbench/launch`, { headers: { authorization: `Basic ${btoa("mdw:mdw-password")}` } })).status).toBe(403);
    const a = ((await (await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: "30" } })).json()) as any).id;
    const b = ((await (await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: "30" } })).json()) as any).id;
    await until(async () => (await launch(`/mdworkbench/launch/${a}`)).state === "running" || undefined, 20_000, "the first launch to run");
    const queue = (await (await call("GET", "/mdworkbench/launch")).json()) as any[];
    expect(queue.map((l) => [l.id, l.state])).toEqual([[a, "running"], [b, "waiting"]]);
    expect(Object.keys(queue[0])).toEqual(["id", "uri", "service", "state", "requestNumber", "requestTime", "startTime"]);
    expect(((await (await call("DELETE", `/mdworkbench/launch/${b}`)).json()) as any).state).toBe("canceled");
    await call("DELETE", `/mdworkbench/launch/${a}`);
    await until(async () => (await launch(`/mdworkbench/launch/${a}`)).state === "canceled" || undefined, 20_000, "the running launch to be canceled");
    expect((await call("DELETE", "/mdworkbench/launch/999999")).status).toBe(404);
  }, 60_000);

  test("JSON by default, XML on request (read back with an XML parser)", async () => {
    const id = ((await (await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: "0" } })).json()) as any).id;
    const res = await call("GET", `/mdworkbench/launch/${id}`, { headers: { accept: "application/xml" } });
    expect(res.headers.get("content-type")).toContain("application/xml");
    const doc = new XMLParser().parse(await res.text());
    expect(String(doc.launch.id)).toBe(id);
    expect(doc.launch.service).toBe("sleeper");
    expect(doc.launch.arguments.argument).toEqual({ name: "seconds", value: 0 });
  });

  test("in maintenance (draining) a launch is 503; bad input is answered and launches nothing", async () => {
    const count = async () => ((await c.json("/rest/jobs?max=1")) as { totalCount: number }).totalCount;
    const before = await count();
    await c.json("/cluster/drain", { method: "PUT", json: { draining: true } });
    const busy = await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: "1" } });
    expect(busy.status).toBe(503);
    expect(((await busy.json()) as any).message).toMatch(/maintenance/);
    await c.json("/cluster/drain", { method: "PUT", json: { draining: false } });
    expect((await call("POST", "/mdworkbench/launch?id=nope")).status).toBe(404);
    const missing = await call("POST", "/mdworkbench/launch?id=wordcount");
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as any).message).toBe("Missing parameter inputfile: service wordcount needs it");
    const form = new FormData();
    form.append("colour", "red");
    const unknown = await call("POST", "/mdworkbench/launch?id=sleeper", { body: form });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).message).toMatch(/Unknown parameter colour/);
    expect((await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: "soon" } })).status).toBe(400);
    expect((await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: "1", "status-location": "ftp://x/y" } })).status).toBe(400);
    expect(await count()).toBe(before);
  });
});
