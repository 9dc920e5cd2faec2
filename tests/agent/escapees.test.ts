import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Escapees, startedByBun } from "../../agent/src/escapees.ts";

const isZombie = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").startsWith("Z");
  } catch {
    return false;
  }
};

/**
 * Holds the event loop (Bun collects its children only when the loop polls) until `pid` has
 * exited and waits to be collected.
 */
function holdUntilZombie(pid: number): void {
  const t0 = Date.now();
  while (!isZombie(pid)) {
    if (Date.now() - t0 > 10_000) throw new Error(`process ${pid} did not exit`);
    Bun.sleepSync(10);
  }
}

test("a sweep never collects a process Bun started, however long Bun takes to: its exited still resolves", async () => {
  // (the one-node cluster shares its event loop with the controller and the embedded database:
  // two sweeps could come before Bun collected a job's process, which then never ended)
  const escapees = new Escapees("/nonexistent-jobs-dir", true);
  const proc = startedByBun(Bun.spawn(["/bin/true"], { stdout: "ignore", stderr: "ignore" }));
  holdUntilZombie(proc.pid);
  escapees.sweep(new Set()); // sees it dead
  escapees.sweep(new Set()); // still dead a sweep later: an adopted child would be collected now
  expect(isZombie(proc.pid)).toBe(true);
  expect(await proc.exited).toBe(0);
});

test("a sweep collects a child that died and that Bun did not start (what the agent adopts as subreaper)", async () => {
  const escapees = new Escapees("/nonexistent-jobs-dir", true);
  // not registered: stands for an adopted process (the sweep cannot tell otherwise)
  const proc = Bun.spawn(["/bin/true"], { stdout: "ignore", stderr: "ignore" });
  proc.exited.catch(() => {}); // its exit status goes to the sweep
  holdUntilZombie(proc.pid);
  escapees.sweep(new Set());
  expect(isZombie(proc.pid)).toBe(true);
  escapees.sweep(new Set());
  expect(isZombie(proc.pid)).toBe(false);
});
