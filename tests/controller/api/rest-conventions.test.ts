import { afterAll, beforeAll, expect, test } from "bun:test";
import { forEachDatabase } from "../../helpers/databases.ts";
import { startTestController, type TestController } from "../../helpers/controller.ts";

await forEachDatabase("REST conventions", (db) => {
  let c: TestController;
  let token: string;
  beforeAll(async () => {
    c = await startTestController(db(), { DROVER_HTTP_MAX_BODY: "1k" });
    token = await c.adminToken();
  });
  afterAll(() => c.stop());

  test("GET /rest/diag/about shows version, build, buildDate and revision, under /rest and /mws/rest", async () => {
    for (const path of ["/rest/diag/about", "/mws/rest/diag/about"]) {
      const res = await c.request(path, { token });
      expect(res.status).toBe(200);
      expect(Object.keys((await res.json()) as object).sort()).toEqual(["build", "buildDate", "revision", "version"]);
    }
  });

  test("pretty=true indents the output and fields selects on a show", async () => {
    const res = await c.request("/rest/diag/about?pretty=true&fields=version,build", { token });
    const text = await res.text();
    expect(text).toContain('\n  "version"');
    expect(Object.keys(JSON.parse(text))).toEqual(["version", "build"]);
  });

  test("an unknown resource is 404 with messages", async () => {
    const res = await c.request("/rest/nothing-here", { token });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { messages: string[] }).messages[0]).toMatch(/was not found/);
  });

  test("a method the resource does not support is 405 with the MWS message and an Allow header", async () => {
    const res = await c.request("/rest/diag/about", { method: "DELETE", token });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect(((await res.json()) as { messages: string[] }).messages[0]).toBe(
      "The specified HTTP method is not allowed for the requested resource",
    );
  });

  test("malformed JSON is 400, never 500", async () => {
    const res = await c.request("/auth/token", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { messages: string[] }).messages[0]).toMatch(/could not be parsed/);
  });

  test("a body that breaks the schema is 400 naming the field", async () => {
    const res = await c.request("/auth/token", { method: "POST", json: { username: 5, password: "x" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { messages: string[] }).messages.join(" ")).toContain('"username"');
  });

  test("an oversized body is 413 with messages", async () => {
    const res = await c.request("/auth/token", { method: "POST", json: { username: "x".repeat(2000), password: "y" } });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { messages: string[] }).messages[0]).toMatch(/limit is 1024/);
  });

  test("a bad global URL parameter is 400", async () => {
    const res = await c.request("/rest/diag/about?pretty=maybe", { token });
    expect(res.status).toBe(400);
  });

  test("/health and the OpenAPI document are open; every other route demands authentication", async () => {
    expect((await c.request("/health")).status).toBe(200);
    const version = await c.request("/rest/version/");
    expect(version.status).toBe(200);
    expect(await version.json()).toEqual({ Version: expect.any(String), API: "1" });
    const doc = (await (await c.request("/docs/json")).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(doc.paths["/rest/diag/about"]).toBeDefined();
    // every dialect is documented (caesar's paths hold a dot, which the generator used to skip)
    for (const path of ["/rest/v1/jobs/", "/caesar/api/v1.0/upload", "/caesar/api/v1.0/job/{id}/status", "/mdworkbench/launch", "/openmole/start", "/apps/{name}"]) expect({ path, documented: !!doc.paths[path] }).toEqual({ path, documented: true });
    const open = new Set(["GET /health", "POST /auth/token", "GET /docs", "GET /docs/json", "GET /rest/version/", "GET /rest/version", "POST /openmole/token", "GET /ui"]);
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const key = `${method.toUpperCase()} ${path}`;
        if (open.has(key)) continue;
        const concrete = path.replace(/\{[^}]+\}/g, "x");
        const res = await c.request(concrete, { method: method.toUpperCase(), body: ["GET", "HEAD"].includes(method.toUpperCase()) ? undefined : "{}", headers: { "content-type": "application/json" } });
        expect(`${key} -> ${res.status}`).toBe(`${key} -> 401`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3);
  });
});
