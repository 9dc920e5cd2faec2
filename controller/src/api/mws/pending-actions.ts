import { Elysia } from "elysia";
import { listPendingActions, type PendingAction } from "../../jobs/pending-actions.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { formatMwsDate } from "../conventions/dates.ts";
import { jsonResponse, listEnvelope, parseListParams } from "../conventions/listing.ts";
import { mwsJobId } from "./job-view.ts";

/** Renders a pending action as MWS 3.7 shows it; the VM fields exist for clients that read them. */
export function mwsPendingActionView(a: PendingAction) {
  return {
    id: a.key,
    pendingActionType: a.type,
    pendingActionState: a.state,
    substate: a.substate,
    failureDetails: a.failureDetails,
    hosts: a.hosts,
    maxDurationInSeconds: a.maxDurationS,
    motivation: a.requester !== "drover" ? `requested by ${a.requester}` : a.type === "DISPATCH" ? "scheduled by drover" : "started by drover",
    requester: a.requester,
    startTime: formatMwsDate(a.startedAt),
    jobId: mwsJobId(a.jobId),
    serviceId: mwsJobId(a.jobId),
    topLevelServiceId: "",
    migrationDestination: "",
    migrationSource: "",
    targetOS: "",
    vmId: "",
  };
}

/** MWS 3.7: drover's operations in flight between the controller and agents. */
export function pendingActionRoutes(ctx: ApiContext) {
  return new Elysia().use(authPlugin(ctx)).get(
    "/pending-actions",
    async ({ query, principal }) => {
      const params = parseListParams(query);
      const actions = await listPendingActions(ctx.db, principal);
      return jsonResponse(listEnvelope(actions.map(mwsPendingActionView), params), params);
    },
    { detail: { summary: "Get all pending actions (dispatch, cancel, suspend, resume, requeue awaiting an agent)", tags: ["mws"] } },
  );
}
