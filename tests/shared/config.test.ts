import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../shared/src/config.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const home = () => tempDir("config");

test("defaults are REST on 127.0.0.1:7070 and gRPC on 127.0.0.1:7071 with the embedded database", () => {
  const c = loadConfig({}, home());
  expect(c.http).toMatchObject({ host: "127.0.0.1", port: 7070 });
  expect(c.grpc).toMatchObject({ host: "127.0.0.1", port: 7071 });
  expect(c.database.url).toBe("");
});

test("drover.toml is read and DROVER_* variables override it", () => {
  const h = home();
  mkdirSync(join(h, "etc"));
  writeFileSync(join(h, "etc", "drover.toml"), '[http]\nport = 8080\n[auth]\ntokenLifetimeMs = "1h"\n');
  expect(loadConfig({}, h).http.port).toBe(8080);
  expect(loadConfig({}, h).auth.tokenLifetimeMs).toBe(3_600_000);
  expect(loadConfig({ DROVER_HTTP_PORT: "9090" }, h).http.port).toBe(9090);
});

test("a bad value names the key, where it came from and what is allowed", () => {
  expect(() => loadConfig({ DROVER_HTTP_PORT: "seventy" }, home())).toThrow(
    /"http.port" \(from environment variable DROVER_HTTP_PORT\) is "seventy": must be a port number/,
  );
  expect(() => loadConfig({ DATABASE_URL: "mysql://x" }, home())).toThrow(/database.url.*postgres:\/\//);
  expect(() => loadConfig({ DROVER_NODE_BACKLOG: "-1" }, home())).toThrow(/"scheduler.nodeBacklog".*from 0 \(no backlog\) to 16/);
});

test("the node backlog defaults to 4 times a node's processors, handed back after 2 s; 0 turns it off", () => {
  expect(loadConfig({}, home()).scheduler).toMatchObject({ nodeBacklog: 4, backlogWaitMs: 2000 });
  expect(loadConfig({ DROVER_NODE_BACKLOG: "0", DROVER_BACKLOG_WAIT: "500ms" }, home()).scheduler).toMatchObject({ nodeBacklog: 0, backlogWaitMs: 500 });
});

test("passes are spaced 25 ms apart under load by default; 0 turns the batch window off", () => {
  expect(loadConfig({}, home()).scheduler.batchWindowMs).toBe(25);
  expect(loadConfig({ DROVER_BATCH_WINDOW: "0" }, home()).scheduler.batchWindowMs).toBe(0);
  expect(() => loadConfig({ DROVER_BATCH_WINDOW: "soon" }, home())).toThrow(/scheduler.batchWindowMs/);
});

test("an unknown setting in drover.toml is refused with the list of known ones", () => {
  const h = home();
  mkdirSync(join(h, "etc"));
  writeFileSync(join(h, "etc", "drover.toml"), "[http]\nprot = 1\n");
  expect(() => loadConfig({}, h)).toThrow(/unknown setting "http.prot"/);
});

test("a drover.toml that is not TOML is refused with the file named", () => {
  const h = home();
  mkdirSync(join(h, "etc"));
  writeFileSync(join(h, "etc", "drover.toml"), "[http\n");
  expect(() => loadConfig({}, h)).toThrow(/drover.toml is not valid TOML/);
});
