// MDWorkbench's launch API (seed 002) on a real cluster: services are drover's apps, launches
// its jobs; the Status-Location callback goes to an HTTP server of the test's own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { XMLParser } from "fast-xml-parser";
import { unzipSync } from "fflate";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";
import { exampleApps } from "../../controller/src/apps/example-apps.ts";

// an app that reports progress and generates files (its values reach the script as arguments)
const maker = {
  name: "maker",
  description: "writes numbered lines and a greeting, reporting its progress",
  command: ["sh", "-c", 'echo "PROGRESS: starting"; mkdir -p out/sub; seq 1 "$1" > out/numbers.txt; echo hello > "out/sub/a b.txt"; echo "PROGRESS: all written"', "maker", "{count}"],
  options: { count: { type: "int", mandatory: true, min: 1, max: 1000, description: "how many lines" } },
  resources: { cpus: 1, memory: "16M", walltime: "1m" },
};

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
    // jobs sent to the busy node wait in its backlog for as long as the tests take
    c = new Cluster({ databaseUrl: url(), env: { DROVER_BACKLOG_WAIT: "120s" } });
    await c.startController();
    for (const app of [...exampleApps, maker]) await c.api(`/apps/${app.name}`, { method: "PUT", json: app });
    await c.startAgent("node-a", { args: ["--cpus", "1"] });
    await c.json("/auth/users", { method: "POST", json: { username: "mdw", password: "mdw-password" } });
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

  test("reordering moves waiting launches, and they start in the new order on a one-processor node", async () => {
    const post = async (seconds: number) => ((await (await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: String(seconds) } })).json()) as any).id as string;
    const ids = async (res: Response) => ((await res.json()) as any[]).map((l) => l.id);
    const a = await post(3);
    await until(async () => (await launch(`/mdworkbench/launch/${a}`)).state === "running" || undefined, 20_000, "the first launch to run");
    const b = await post(0);
    const c2 = await post(0);
    const d = await post(0);
    expect(await ids(await call("GET", "/mdworkbench/launch"))).toEqual([a, b, c2, d]);
    const top = await call("PUT", `/mdworkbench/launch?id=${d}&direction=top`);
    expect(top.status).toBe(200);
    expect(await ids(top)).toEqual([a, d, b, c2]);
    expect(await ids(await call("PUT", `/mdworkbench/launch?id=${b}&direction=down`))).toEqual([a, d, c2, b]);

    // refused moves change nothing
    const refusals: [string, number, RegExp][] = [
      [`id=${b}`, 400, /direction=top\|up\|down\|bottom/],
      [`id=${b}&direction=sideways`, 400, /Unknown direction "sideways"/],
      ["direction=up", 400, /Give the launches to move/],
      [`id=999999&direction=top`, 400, /No waiting launch matches 999999/],
      [`id=${a}&direction=top`, 400, new RegExp(`No waiting launch matches ${a}`)],
      [`id=abc&direction=top`, 400, /No launch matches abc/],
    ];
    for (const [query, status, message] of refusals) {
      const res = await call("PUT", `/mdworkbench/launch?${query}`);
      expect([query, res.status]).toEqual([query, status]);
      expect(((await res.json()) as any).message).toMatch(message);
    }
    expect((await fetch(`${c.url}/mdworkbench/launch?id=${b}&direction=top`, { method: "PUT" })).status).toBe(401);
    expect((await fetch(`${c.url}/mdworkbench/launch?id=${b}&direction=top`, { method: "PUT", headers: { authorization: `Basic ${btoa("mdw:mdw-password")}` } })).status).toBe(403);
    expect(await ids(await call("GET", "/mdworkbench/launch"))).toEqual([a, d, c2, b]);

    const ended = await until(async () => {
      const all = await Promise.all([d, c2, b].map((id) => launch(`/mdworkbench/launch/${id}`)));
      return all.every((l) => l.state === "completed") ? all : undefined;
    }, 30_000, "the reordered launches to complete");
    const starts = ended.map((l) => Date.parse(l.startTime));
    expect(starts[0]!).toBeLessThan(starts[1]!);
    expect(starts[1]!).toBeLessThan(starts[2]!);
    expect(ended[0].logEntries.map((e: any) => e.message)).toContain("moved to the top of the queue by admin");
  }, 60_000);

  test("progress lines become progress entries; the generated files are the result, as one zip and each file", async () => {
    const res = await call("POST", "/mdworkbench/launch?id=maker", { headers: { count: "3", "status-location": `http://127.0.0.1:${sink.port}/made` } });
    expect(res.status).toBe(200);
    const id = ((await res.json()) as any).id as string;
    const done = await until(async () => {
      const l = await launch(`/mdworkbench/launch/${id}`);
      return l.state === "completed" || l.state === "failed" ? l : undefined;
    }, 30_000, "the maker launch to end");
    expect(done.state).toBe("completed");
    const progress = done.logEntries.filter((e: any) => e.kind === "progress");
    expect(progress.map((e: any) => e.message)).toEqual(["starting", "all written"]);
    expect(progress[0].duration).toMatch(/^PT/);
    const base = `${c.url}/mdworkbench/launch/${id}/result`;
    expect(done.result).toEqual({
      uri: base,
      files: [
        { path: "out/numbers.txt", uri: `${base}/out/numbers.txt` },
        { path: "out/sub/a b.txt", uri: `${base}/out/sub/a%20b.txt` },
      ],
    });
    const zip = await fetch(done.result.uri, { headers: admin });
    expect(zip.headers.get("content-type")).toBe("application/zip");
    const entries = unzipSync(new Uint8Array(await zip.arrayBuffer()));
    expect(Object.keys(entries).sort()).toEqual([`launch_${id}/out/numbers.txt`, `launch_${id}/out/sub/a b.txt`]);
    expect(new TextDecoder().decode(entries[`launch_${id}/out/numbers.txt`])).toBe("1\n2\n3\n");
    const one = await fetch(done.result.files[1].uri, { headers: admin });
    expect([one.status, await one.text()]).toEqual([200, "hello\n"]);
    // only the listed files: nothing else of the node, however the path is spelled
    for (const path of ["stdout", "run.sh", "..%2F..%2F..%2Fetc%2Fpasswd", "out/../run.sh", "nope.txt"]) {
      const res = await fetch(`${base}/${path}`, { headers: admin });
      expect([path, res.status]).toEqual([path, 404]);
    }
    // the callback carries the result too; a launch that generated nothing has none
    const posted = (await until(async () => received.find((r: any) => r.id === id), 30_000, "the callback")) as any;
    expect(posted.result.files).toHaveLength(2);
    const sleeper = ((await (await call("POST", "/mdworkbench/launch?id=sleeper", { headers: { seconds: "0" } })).json()) as any).id;
    const slept = await until(async () => {
      const l = await launch(`/mdworkbench/launch/${sleeper}`);
      return l.state === "completed" ? l : undefined;
    }, 30_000, "the sleeper to complete");
    expect(slept.result).toBeUndefined();
    expect((await fetch(`${c.url}/mdworkbench/launch/${sleeper}/result`, { headers: admin })).status).toBe(404);
    // another user sees none of it
    expect((await fetch(base, { headers: { authorization: `Basic ${btoa("mdw:mdw-password")}` } })).status).toBe(404);
    // in XML, the files are file elements
    const xml = new XMLParser().parse(await (await call("GET", `/mdworkbench/launch/${id}`, { headers: { accept: "application/xml" } })).text());
    expect(xml.launch.result.files.file.map((f: any) => f.path)).toEqual(["out/numbers.txt", "out/sub/a b.txt"]);
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
