// A longer run of the OpenAPI-driven fuzz test (tests/controller/api/openapi-fuzz.test.ts) on
// both databases: every documented route, RUNS random requests each, from SEED.
//
//   bun scripts/fuzz-api.ts [RUNS] [SEED] [--write]      (--write adds the figures to BENCHMARKS.md)
import { writeBenchmarkSection } from "./bench-report.ts";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const runs = Number(args[0] ?? 200);
const seed = Number(args[1] ?? Date.now() % 1_000_000_007);
const started = performance.now();
const proc = Bun.spawn([process.execPath, "test", "--timeout", "3600000", "tests/controller/api/openapi-fuzz.test.ts"], {
  env: { ...process.env, DROVER_FUZZ_RUNS: String(runs), DROVER_FUZZ_SEED: String(seed), DROVER_LOG_LEVEL: "error" },
  stdout: "pipe",
  stderr: "pipe",
});
const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
const code = await proc.exited;
const text = out + err;
process.stdout.write(text.split("\n").filter((l) => /fuzzed|pass|fail|Counterexample|where/.test(l)).join("\n") + "\n");
const requests = [...text.matchAll(/fuzzed (\d+) routes with (\d+) requests/g)].map((m) => ({ routes: Number(m[1]), requests: Number(m[2]) }));
const seconds = (performance.now() - started) / 1000;
if (code !== 0) {
  console.error(`the fuzz run failed (seed ${seed}): rerun with bun scripts/fuzz-api.ts ${runs} ${seed}`);
  process.exit(1);
}
const total = requests.reduce((n, r) => n + r.requests, 0);
console.log(`${total} requests on ${requests[0]?.routes ?? 0} routes, both databases, seed ${seed}: no 5xx, every refusal in its dialect's shape, nothing stored by one; ${seconds.toFixed(0)} s`);
if (process.argv.includes("--write")) {
  writeBenchmarkSection("Fuzzing every documented route", `bun scripts/fuzz-api.ts ${runs} ${seed} --write`, {
    "routes in the OpenAPI document": String(requests[0]?.routes ?? 0),
    "random requests per route and database": String(runs),
    "requests in all (PGlite and Postgres)": total.toLocaleString("en"),
    "seed": String(seed),
    "server errors (5xx other than 503), refusals not in the dialect's shape, records left by a refused request": "0",
    "time": `${seconds.toFixed(0)} s`,
  }, [
    "fast-check arbitraries: odd path segments (traversal, NUL, 5,000 characters, huge numbers, injection strings), random query parameters (the route's own and others), bodies of every kind (random JSON and values, unparsable JSON, 2,000-deep nesting, huge numbers and strings, malformed multipart, form bodies, invalid UTF-8 and gzip bytes) with odd headers, as an admin and as a user. The suite runs the same test with 12 requests per route and the fixed seed 20261201.",
  ]);
}
