// Random and malformed requests against the wr and caesar routes and the app catalogue: never a
// 5xx, always the dialect's error shape, and nothing stored by a refused request. A fixed seed
// keeps the run repeatable.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { forEachDatabase } from "../../helpers/databases.ts";
import { ADMIN_PASSWORD, startTestController, type TestController } from "../../helpers/controller.ts";

/** A small deterministic generator (mulberry32). */
function random(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function value(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * 12);
  switch (pick) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return Math.floor(r() * 2 ** 31) * (r() < 0.5 ? -1 : 1);
    case 3: return r() * 1e300;
    case 4: return "x".repeat(Math.floor(r() * 5000));
    case 5: return "\u0000\uffff\ud800 $(rm -rf ~) `id`; ../../etc/passwd";
    case 6: return depth < 4 ? Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1)) : [];
    case 7: return depth < 4 ? Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, (_, i) => [["cmd", "memory", "time", "cpus", "deps", "on_exit", "app", "job_inputs", "name", "command", "options"][Math.floor(r() * 11)]! + (i ? i : ""), value(r, depth + 1)])) : {};
    case 8: return "5X";
    case 9: return -1;
    case 10: return "1h30m";
    default: return "";
  }
}

/** A URL component of any value (lone surrogates made well-formed first). */
const enc = (v: unknown) => encodeURIComponent(String(v).toWellFormed());

await forEachDatabase("bad input on the wr, caesar and MDWorkbench routes", (database) => {
  let c: TestController;
  let token = "";
  beforeAll(async () => {
    c = await startTestController(database());
    token = await c.adminToken();
  });
  afterAll(() => c.stop());

  test("300 random bodies and parameters: never 5xx, plain-text errors for wr and {status} for caesar, nothing stored by a refused one", async () => {
    const r = random(20261201);
    const jobCount = async () => JSON.stringify(await c.database.db.execute(sql`select count(*) as n from jobs`));
    for (let i = 0; i < 300; i++) {
      const before = await jobCount();
      const body = value(r);
      const text = r() < 0.2 ? "{[not json" : JSON.stringify(r() < 0.5 ? [body] : body);
      const kind = i % 6;
      let res: Response;
      if (kind === 0) res = await c.request(`/rest/v1/jobs/?cpus=${enc(value(r))}`, { method: "POST", token, body: text, headers: { "content-type": "application/json" } });
      else if (kind === 1) res = await c.request("/caesar/api/v1.0/job", { method: "POST", token, body: text, headers: { "content-type": "application/json" } });
      else if (kind === 2) res = await c.request(`/rest/v1/jobs/${enc(value(r)).slice(0, 300) || "x"}?state=${r() < 0.5 ? "deletable" : "bogus"}&limit=${enc(value(r)).slice(0, 20)}`, { method: r() < 0.5 ? "GET" : "DELETE", token });
      else if (kind === 3) res = await c.request(`/apps/x${i}`, { method: "PUT", token, body: text, headers: { "content-type": "application/json" } });
      else if (kind === 5 && r() < 0.3) res = await c.request(`/mdworkbench/launch?id=${enc(value(r)).slice(0, 50)}&id=${enc(value(r)).slice(0, 20)}&direction=${enc(value(r)).slice(0, 20)}`, { method: "PUT", token });
      else if (kind === 5) res = await c.request(`/mdworkbench/launch?id=${enc(value(r)).slice(0, 50)}`, { method: "POST", token, body: text, headers: { "content-type": r() < 0.5 ? "multipart/form-data; boundary=b" : "text/plain", "status-location": enc(value(r)).slice(0, 100) } });
      else res = await c.request(`/caesar/api/v1.0/${["job/abc/status", "download/zz", "job/00000000-0000-4000-8000-zzzzzzzzzzzz/output", "upload"][i % 4]}`, { method: i % 4 === 3 ? "POST" : "GET", token, body: i % 4 === 3 ? text : undefined, headers: i % 4 === 3 ? { "content-type": "multipart/form-data; boundary=xyz" } : {} });
      const payload = await res.text();
      expect({ i, kind, status: res.status < 500 }).toEqual({ i, kind, status: true });
      if (res.status >= 400 && kind !== 3) {
        if (kind === 0 || kind === 2) expect(payload.endsWith("\n")).toBe(true);
        else if (kind === 5) expect(typeof (JSON.parse(payload) as { message: unknown }).message).toBe("string");
        else expect(typeof (JSON.parse(payload) as { status: unknown }).status).toBe("string");
        // a refused request stored nothing
        if (kind !== 2) expect(await jobCount()).toBe(before);
      }
    }
  }, 60_000);
});

await forEachDatabase("bad input on OpenMOLE's routes", (database) => {
  let c: TestController;
  let token = "";
  beforeAll(async () => {
    c = await startTestController(database());
    const res = await c.request(`/openmole/token?password=${encodeURIComponent(ADMIN_PASSWORD)}`, { method: "POST" });
    token = ((await res.json()) as { token: string }).token;
  });
  afterAll(() => c.stop());

  test("200 random parameters and bodies: never 5xx, always {message}, no execution started by a refused one", async () => {
    const r = random(20261202);
    const executions = async () => JSON.stringify(await c.database.db.execute(sql`select count(*) as n from workflow_executions`));
    const before = await executions();
    const routes = ["start", "state", "output", "download", "remove", "list", "token"];
    for (let i = 0; i < 200; i++) {
      const route = routes[i % routes.length]!;
      const params = new URLSearchParams({ id: enc(value(r)).slice(0, 80), path: enc(value(r)).slice(0, 200), script: enc(value(r)).slice(0, 100) });
      if (r() < 0.8) params.set("token", r() < 0.9 ? token : enc(value(r)).slice(0, 100));
      let body: string | FormData | undefined;
      const headers: Record<string, string> = {};
      const shape = r();
      if (shape < 0.3) {
        const form = new FormData();
        const junk = r() < 0.5 ? new Uint8Array([0x1f, 0x8b, ...Array.from({ length: 40 }, () => Math.floor(r() * 256))]) : new TextEncoder().encode(String(value(r)).toWellFormed());
        form.append("workDirectory", new File([junk], "w.tgz"));
        form.append(r() < 0.5 ? "script" : "other", String(value(r)).toWellFormed().slice(0, 100));
        body = form;
      } else if (shape < 0.5) {
        body = "--b\r\nContent-Disposition: form-data; name=\"workDirectory\"; filename=\"x\"\r\n\r\nnot closed";
        headers["content-type"] = "multipart/form-data; boundary=b";
      } else if (shape < 0.7) {
        body = `token=${enc(value(r))}&id=${enc(value(r))}&%%%`;
        headers["content-type"] = "application/x-www-form-urlencoded";
      }
      const res = await fetch(`${c.url}/openmole/${route}?${params}`, { method: "POST", body, headers });
      const text = await res.text();
      expect({ i, route, status: res.status < 500 }).toEqual({ i, route, status: true });
      if (res.status >= 400) expect({ i, route, message: typeof (JSON.parse(text) as { message: unknown }).message }).toEqual({ i, route, message: "string" });
    }
    expect(await executions()).toBe(before);
  }, 60_000);
});
