// Log lines never carry secrets: fields named like secrets are masked, and a failed database
// query shows the database's complaint, not the query's parameters.
import { afterEach, expect, test } from "bun:test";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { join } from "node:path";
import { logger } from "../../shared/src/log.ts";

const written: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);
const capture = () => {
  written.length = 0;
  process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
};
afterEach(() => {
  process.stderr.write = realWrite;
});

test("fields named like secrets are masked", () => {
  capture();
  logger("t").error("x", { password: "hunter22", agentToken: "drover-agent-abc", user: "alice" });
  expect(written.join("")).not.toContain("hunter22");
  expect(written.join("")).not.toContain("drover-agent-abc");
  expect(written.join("")).toContain("user=alice");
});

test("a failed query is logged without its parameters", () => {
  capture();
  const e = new DrizzleQueryError('insert into "jobs" ("environment") values ($1)', [{ API_KEY: "s3cr3t-value" }], new Error("value too long"));
  logger("t").error("unexpected error", { error: e });
  const line = written.join("");
  expect(line).toContain("database query failed: value too long");
  expect(line).not.toContain("s3cr3t-value");
});

test("under systemd (JOURNAL_STREAM set) each line carries its syslog priority for journald, without a timestamp", () => {
  const script = `import { logger } from "${join(import.meta.dir, "../../shared/src/log.ts")}"; const l = logger("t"); l.error("broke", { error: new Error("deep") }); l.warn("careful"); l.info("fine");`;
  const r = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, JOURNAL_STREAM: "8:1234", DROVER_LOG_LEVEL: "info" }, stderr: "pipe" });
  const lines = r.stderr.toString().trim().split("\n");
  expect(lines[0]).toBe("<3>ERROR [t] broke error=Error: deep");
  // the stack's lines keep the error's priority
  expect(lines.filter((l) => l.includes(" at ")).every((l) => l.startsWith("<3>"))).toBe(true);
  expect(lines).toContain("<4>WARN [t] careful");
  expect(lines.at(-1)).toBe("<6>INFO [t] fine");
});
