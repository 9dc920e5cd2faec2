// postgres.js is patched (patches/postgres@*.patch): a write to a connection whose backend died
// settles with CONNECTION_CLOSED. Unpatched, the second query below throws out of a timer and
// ends the process (porsager/postgres#1208) — the test runner itself would die here.
import { expect, test } from "bun:test";
import postgres from "postgres";
import { POSTGRES_URL, postgresProblem } from "../../helpers/databases.ts";

const problem = await postgresProblem();
if (problem && process.env.CI === "true") throw new Error(`Postgres at ${POSTGRES_URL} is unreachable: ${problem}`);

test.skipIf(!!problem)("a query on a connection whose backend was terminated is settled or waits, never thrown out of a timer; the pool serves on", async () => {
  const sql = postgres(POSTGRES_URL, { max: 2, onnotice: () => {} });
  const killer = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  const outcome = (p: Promise<unknown>) =>
    Promise.race([p.then(() => "answered", (e: Error & { code?: string }) => e.code ?? e.message), Bun.sleep(1000).then(() => "waiting")]);
  try {
    const reserved = await sql.reserve();
    const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
    await killer`select pg_terminate_backend(${pid})`;
    // (ECONNRESET or CONNECTION_CLOSED, as the close reaches the client)
    expect(await outcome(reserved`select 1`)).not.toBe("answered");
    // unpatched, this one threw "null is not an object (evaluating 'socket.write')" from a timer
    expect(await outcome(reserved`select 1`)).not.toBe("answered");
    reserved.release();
    // the pool goes on serving (the dead connection it got back fails once, then reconnects)
    let answer: unknown;
    for (let i = 0; i < 3 && answer === undefined; i++) answer = await sql`select 2 as n`.then((r) => r[0]!.n, () => undefined);
    expect(answer).toBe(2);
  } finally {
    await sql.end({ timeout: 1 });
    await killer.end({ timeout: 1 });
  }
});
