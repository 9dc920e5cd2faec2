// Every route of the OpenAPI document under random input (fast-check, a fixed seed): random and
// boundary values in path parameters, query strings and bodies of every shape — JSON of any
// kind, wrong types, huge numbers, deep nesting, long strings, invalid UTF-8, NUL bytes,
// malformed multipart and gzip — and odd headers. Never a 5xx, never a hang; a refusal in the
// shape of the route's dialect; nothing stored by a refused request. A new route is covered
// without a new test. DROVER_FUZZ_RUNS and DROVER_FUZZ_SEED make a longer run
// (scripts/fuzz-api.ts).
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { sql } from "drizzle-orm";
import { forEachDatabase } from "../../helpers/databases.ts";
import { startTestController, type TestController } from "../../helpers/controller.ts";

const RUNS = Number(process.env.DROVER_FUZZ_RUNS ?? 12);
const SEED = Number(process.env.DROVER_FUZZ_SEED ?? 20261201);
/** Routes that answer with a stream that does not end by itself. */
const SKIPPED = new Set(["GET /events"]);

/** The error shape of the dialect a path belongs to. */
function errorShapeOk(path: string, body: string, contentType: string): boolean {
  if (/^\/rest\/(v1|version)(\/|$)/.test(path)) return contentType.startsWith("text/plain") && body.endsWith("\n");
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false;
  }
  const o = parsed as Record<string, unknown>;
  if (path.startsWith("/caesar/")) return typeof o.status === "string";
  if (path.startsWith("/mdworkbench") || path.startsWith("/openmole")) return typeof o.message === "string";
  return Array.isArray(o.messages) && o.messages.every((m) => typeof m === "string");
}

const oddText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", "../../etc/passwd", "..", "%00", "\u0000", "x".repeat(5000), "-1", "1e309", "9".repeat(40), "drover.1", "NaN", "null", "[]", "{}", "~", "/etc/passwd", "' or 1=1 --", "$(id)", "`id`"),
  fc.integer().map(String),
);
const deep = (depth: number): unknown => (depth ? { a: [deep(depth - 1)] } : 1);
const body = fc.oneof(
  fc.json({ maxDepth: 3 }).map((text) => ({ text, type: "application/json" })),
  fc.anything({ maxDepth: 2, withBigInt: false }).map((v) => ({ text: JSON.stringify(v) ?? "null", type: "application/json" })),
  fc.constantFrom(
    { text: "{[not json", type: "application/json" },
    { text: JSON.stringify(deep(2000)), type: "application/json" },
    { text: JSON.stringify({ cpus: 1e308, memory: -1, name: "\u0000", commandFile: "x".repeat(100_000) }), type: "application/json" },
    { text: "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nunfinished", type: "multipart/form-data; boundary=b" },
    { text: "--b--\r\n", type: "multipart/form-data; boundary=b" },
    { text: "token=&id=%ZZ&&=", type: "application/x-www-form-urlencoded" },
    { text: "", type: "application/xml" },
  ),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes: new Uint8Array([0xff, 0xfe, 0x1f, 0x8b, ...bytes]), type: "application/json" })),
);

await forEachDatabase("every documented route under random input", (database) => {
  let c: TestController;
  let admin = "";
  let user = "";
  beforeAll(async () => {
    c = await startTestController(database());
    admin = await c.adminToken();
    user = await c.userToken("fuzzer");
  });
  afterAll(() => c.stop());

  test(`${RUNS} random requests on each route of the OpenAPI document (seed ${SEED})`, async () => {
    const doc = (await (await c.request("/docs/json")).json()) as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), query: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name) })),
    ).filter((r) => !SKIPPED.has(`${r.method} ${r.path}`));
    expect(routes.length).toBeGreaterThan(80);
    const stored = async () =>
      JSON.stringify(
        await c.database.db.execute(sql`select (select count(*) from jobs) as jobs, (select count(*) from files) as files, (select count(*) from users) as users,
          (select count(*) from workflow_executions) as executions, (select count(*) from reports) as reports, (select count(*) from apps) as apps`),
      );
    let requests = 0;
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(
          fc.array(oddText, { minLength: 3, maxLength: 3 }),
          fc.dictionary(fc.oneof(fc.constantFrom(...route.query, "max", "offset", "id", "token", "fields"), fc.string({ maxLength: 8 })), oddText, { maxKeys: 4 }),
          body,
          fc.boolean(),
          fc.constantFrom<Record<string, string>>({}, { "content-length": "5" }, { accept: "application/xml" }, { "x-forwarded-for": "999.1.1.1, ::zz" }, { authorization: "Bearer " }, { "status-location": "ftp://x" }, { "accept-encoding": "gzip" }),
          async (segments, query, b, asUser, headers) => {
           try {
            let i = 0;
            const path = route.path.replace(/\{[^}]+\}|\*/g, () => encodeURIComponent(segments[i++ % segments.length]!.toWellFormed()).slice(0, 2000) || "x");
            const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k.toWellFormed(), v.toWellFormed()])).toString();
            const before = await stored();
            const withBody = !["GET", "HEAD", "DELETE"].includes(route.method);
            const res = await fetch(`${c.url}${path}${qs ? `?${qs}` : ""}`, {
              method: route.method,
              headers: { authorization: `Bearer ${asUser ? user : admin}`, ...(withBody ? { "content-type": b.type } : {}), ...(headers["content-length"] ? {} : headers) },
              body: withBody ? ("bytes" in b ? b.bytes : b.text) : undefined,
              signal: AbortSignal.timeout(20_000),
            });
            requests++;
            const text = await res.text();
            const where = `${route.method} ${path.slice(0, 120)} → ${res.status}`;
            expect({ where, serverError: res.status >= 500 && res.status !== 503 }).toEqual({ where, serverError: false });
            if (res.status >= 400 && res.status !== 404 && res.status !== 405) {
              expect({ where, shape: errorShapeOk(path, text, res.headers.get("content-type") ?? "") }).toEqual({ where, shape: true });
            }
            if (res.status >= 400) expect({ where, stored: await stored() }).toEqual({ where, stored: before });
           } catch (e) {
            throw new Error(`${route.method} ${route.path}: ${(e as Error).message}`.slice(0, 2000));
           }
          },
        ),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    }
    console.log(`fuzzed ${routes.length} routes with ${requests} requests (seed ${SEED})`);
  }, 600_000);
});
