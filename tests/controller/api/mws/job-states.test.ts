// The one table that maps drover's job states to MWS (Moab) job states, with the queue status
// and the /rest/jobs/active|complete split that follow from it.
import { expect, test } from "bun:test";
import { activeStates, completeStates, mwsJobState } from "../../../../controller/src/api/mws/job-states.ts";
import { jobStates } from "../../../../controller/src/jobs/states.ts";

const at = Date.parse("2026-01-01T00:00:00Z");
const job = (state: string, extra: Partial<{ holds: string[]; earliestStartAt: Date | null; reason: string | null }> = {}) => ({
  state,
  holds: [],
  earliestStartAt: null,
  reason: null,
  ...extra,
});

test.each([
  // drover state, what else is true of the job, MWS state
  ["queued", {}, "IDLE"],
  ["queued", { reason: "waiting for resources: no node has 8 free processors" }, "IDLE"],
  ["queued", { holds: ["USER"] }, "HOLD"],
  ["queued", { holds: ["SYSTEM"], earliestStartAt: new Date(at + 60_000) }, "HOLD"],
  ["queued", { earliestStartAt: new Date(at + 60_000) }, "DEFERRED"],
  ["queued", { earliestStartAt: new Date(at - 60_000) }, "IDLE"],
  ["queued", { reason: "dependency 4 did not complete successfully; this job will not run unless it is released" }, "BLOCKED"],
  ["dispatching", {}, "STARTING"],
  ["running", {}, "RUNNING"],
  ["suspended", {}, "SUSPENDED"],
  ["completed", {}, "COMPLETED"],
  ["failed", {}, "COMPLETED"],
  ["cancelled", {}, "REMOVED"],
  ["lost", {}, "VACATED"],
] as const)("%s %o is MWS %s", (state, extra, mws) => {
  expect(mwsJobState(job(state, extra as never) as never, at)).toBe(mws);
});

test("every drover state has an MWS state and belongs to exactly one of active and complete", () => {
  for (const s of jobStates) {
    expect(mwsJobState(job(s) as never, at)).not.toBe("UNKNOWN");
    expect(Number((activeStates as readonly string[]).includes(s)) + Number((completeStates as readonly string[]).includes(s))).toBe(1);
  }
});
