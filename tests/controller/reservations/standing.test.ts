// Standing reservations: their definitions, the windows they hold, and their materialisation
// with a driven clock — a daily window keeps a job it does not admit off its node when the job
// would run into it, admits its users' jobs, and is made anew when its definition changes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { create, RegisterSchema } from "@drover/proto/service";
import { loadConfig } from "../../../shared/src/config.ts";
import { ManualClock, setClock } from "../../../shared/src/clock.ts";
import type { Core } from "../../../controller/src/core.ts";
import { jobs, reservations } from "../../../controller/src/db/schema.ts";
import { AgentLinks } from "../../../controller/src/nodes/agent-links.ts";
import { registerNode } from "../../../controller/src/nodes/register-node.ts";
import { schedulePass } from "../../../controller/src/scheduler/schedule-pass.ts";
import { submitJob } from "../../../controller/src/jobs/submit-job.ts";
import { parseStandingReservations, StandingCatalogue, standingWindows } from "../../../controller/src/reservations/standing.ts";
import { reservationUpkeep } from "../../../controller/src/reservations/upkeep.ts";
import { putAclRules } from "../../../controller/src/reservations/reservations.ts";
import { forEachDatabase } from "../../helpers/databases.ts";

const HOUR = 3_600_000;
// Monday 7 December 2026, 00:00 UTC
const MONDAY = Date.UTC(2026, 11, 7);

test("definitions that are wrong are refused naming the setting", () => {
  const bad: [string, string][] = [
    ["a: {period: MONTH, hosts: [n1]}", "period must be DAY or WEEK"],
    ["a: {period: WEEK, days: [Monday], hosts: [n1]}", "days apply to a DAY period"],
    ["a: {days: [Someday], hosts: [n1]}", '"Someday" is not a weekday'],
    ["a: {hosts: [n1], flags: [TIMEFLEX]}", "does not honour TIMEFLEX"],
    ["a: {hosts: [n1], colour: red}", 'unknown setting "colour"'],
    ["a: {hosts: [n1], startTime: 7200, endTime: 3600}", "endTime must be after startTime"],
    ["a: {startTime: 0}", "say which nodes"],
  ];
  for (const [text, why] of bad) expect(() => parseStandingReservations(text)).toThrow(why);
});

test("a DAY period on chosen weekdays, and a WEEK period, hold the windows they say", () => {
  const defs = parseStandingReservations(`
weekdays: {period: DAY, days: [Mon, Wednesday], startTime: 7200, endTime: 10800, depth: 3, hosts: "n[1-2]"}
weekly: {period: WEEK, startTime: 90000, endTime: 97200, depth: 2, hosts: [n1], users: [alice], maxTime: 600}
`);
  expect(defs.get("weekdays")!.hosts).toEqual(["n1", "n2"]);
  // Monday 01:00: Monday's and (of Tuesday and Wednesday) Wednesday's windows
  expect(standingWindows(defs.get("weekdays")!, MONDAY + HOUR)).toEqual([
    { startAt: MONDAY + 2 * HOUR, endAt: MONDAY + 3 * HOUR },
    { startAt: MONDAY + 50 * HOUR, endAt: MONDAY + 51 * HOUR },
  ]);
  // a week begins on Sunday: 90000 s in is Monday 01:00; at Monday 01:30 this week's is on, next week's follows
  const weekly = standingWindows(defs.get("weekly")!, MONDAY + 1.5 * HOUR);
  expect(weekly).toEqual([
    { startAt: MONDAY + HOUR, endAt: MONDAY + 3 * HOUR },
    { startAt: MONDAY + HOUR + 7 * 24 * HOUR, endAt: MONDAY + 3 * HOUR + 7 * 24 * HOUR },
  ]);
});

await forEachDatabase("standing reservations", (database) => {
  let core: Core;
  let dir: string;
  let file: string;
  let catalogue: StandingCatalogue;
  const clock = new ManualClock(MONDAY + HOUR);
  let restore: () => void;

  beforeAll(async () => {
    restore = setClock(clock.read);
    dir = mkdtempSync(join(tmpdir(), "drover-standing-"));
    file = join(dir, "standing-reservations.yaml");
    const links = new AgentLinks();
    for (const node of ["n1", "n2"]) {
      links.attach({ nodeId: node, send: () => {}, close: () => {} });
      await registerNode(database().db, create(RegisterSchema, { nodeName: node, hostname: node, cores: 2, memoryBytes: 4n << 30n }), "t");
    }
    core = { db: database().db, config: loadConfig({ DROVER_NODE_BACKLOG: "0" }, "/nonexistent"), links, kick: () => {}, controllerId: "t", startedAt: 0 };
    catalogue = new StandingCatalogue(file);
  });
  afterAll(() => {
    restore();
    rmSync(dir, { recursive: true, force: true });
  });

  const stateOf = async (id: number) => (await core.db.select().from(jobs).where(eq(jobs.id, id)))[0]!;
  // (not released, not ended by the driven clock)
  const live = async () => (await core.db.select().from(reservations).where(sql`released_at is null and end_at > ${new Date(clock.ms).toISOString()}::timestamptz`).orderBy(reservations.id)).map((r) => ({ id: r.id, start: r.startAt.getTime(), nodes: r.holds.map((h) => h.node) }));

  test("a daily window materialises for its depth, holds its node against jobs that would run into it, admits its users, and is made anew when its definition changes", async () => {
    writeFileSync(file, "nightly: {period: DAY, startTime: 7200, endTime: 10800, depth: 2, hosts: [n1], users: [alice]}\n");
    expect(await reservationUpkeep(core, catalogue)).toBe(true);
    expect(await live()).toEqual([
      { id: "nightly.1", start: MONDAY + 2 * HOUR, nodes: ["n1"] },
      { id: "nightly.2", start: MONDAY + 26 * HOUR, nodes: ["n1"] },
    ]);
    // a second round makes nothing more
    expect(await reservationUpkeep(core, catalogue)).toBe(false);
    // its ACL cannot be changed: it comes from the definition
    await expect(putAclRules(core.db, "nightly.1", [{ type: "USER", value: "bob", comparator: "LEXIGRAPHIC_EQUAL", affinity: "POSITIVE" }])).rejects.toThrow("standing reservation nightly");

    // at 01:00, two hours of bob on n1 would run into 02:00; alice's may
    const bob = (await submitJob(core, { username: "bob", role: "user" }, { argv: ["true"], hosts: ["n1"], walltimeMs: 2 * HOUR })).id;
    const alice = (await submitJob(core, { username: "alice", role: "user" }, { argv: ["true"], hosts: ["n1"], walltimeMs: 2 * HOUR })).id;
    await schedulePass(core);
    expect((await stateOf(bob)).state).toBe("queued");
    expect((await stateOf(bob)).reason).toContain("reservation nightly.1 holds n1");
    expect((await stateOf(alice)).state).toBe("dispatching");
    await core.db.update(jobs).set({ state: "completed", endedAt: new Date(clock.ms) }).where(eq(jobs.id, alice));

    // after the window bob's job fits before tomorrow's
    clock.set(MONDAY + 3.5 * HOUR);
    await schedulePass(core);
    expect((await stateOf(bob)).state).toBe("dispatching");
    await core.db.update(jobs).set({ state: "completed", endedAt: new Date(clock.ms) }).where(eq(jobs.id, bob));

    // a changed definition: the window not begun is made anew on the new node; the ended one stays ended
    await Bun.sleep(1100); // (the file is looked at once a second at most)
    writeFileSync(file, "nightly: {period: DAY, startTime: 7200, endTime: 10800, depth: 2, hosts: [n2], users: [alice]}\n");
    await reservationUpkeep(core, catalogue);
    expect(await live()).toEqual([{ id: "nightly.3", start: MONDAY + 26 * HOUR, nodes: ["n2"] }]);
  });
});
