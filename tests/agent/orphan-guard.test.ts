import { expect, test } from "bun:test";
import { OrphanGuard } from "../../agent/src/orphan-guard.ts";
import { until } from "../helpers/until.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A process in a group of its own, as the agent starts jobs. */
const job = () => Bun.spawn(["sleep", "60"], { detached: true, stdout: "ignore", stderr: "ignore" });

test("when its input closes the guard kills the groups still listed, and spares those taken off", async () => {
  const guard = new OrphanGuard();
  guard.start();
  const listed = job();
  const ended = job();
  guard.add(listed.pid);
  guard.add(ended.pid);
  guard.remove(ended.pid);
  guard.stop(); // what the agent's death does to the pipe
  await listed.exited;
  expect(listed.signalCode).toBe("SIGKILL");
  expect(alive(ended.pid)).toBe(true);
  ended.kill();
});

test("a guard that was killed is started again and learns the running groups again", async () => {
  const guard = new OrphanGuard();
  guard.start();
  const running = job();
  guard.add(running.pid);
  const first = guard.pid;
  process.kill(first, "SIGKILL");
  await until(() => guard.pid !== first && alive(guard.pid), 10_000, "the guard to be started again");
  guard.stop();
  await running.exited;
  expect(running.signalCode).toBe("SIGKILL");
});

test("a group is with the guard as soon as add returns: an agent dying right after starting a job does not leave it behind", async () => {
  const guard = new OrphanGuard();
  guard.start();
  const started = job();
  guard.add(started.pid);
  // what the agent's death does, before its event loop turns again: the pipe closes as it is
  (guard as unknown as { proc: { stdin: { end(): void } } }).proc.stdin.end();
  await started.exited;
  expect(started.signalCode).toBe("SIGKILL");
  guard.stop();
});
