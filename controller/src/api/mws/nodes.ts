import { Elysia, t } from "elysia";
import { invalid } from "@drover/shared/errors";
import type { Principal } from "../../auth/principal.ts";
import { activeSeconds, getNode, listNodes, type NodeWithJobs } from "../../nodes/find-nodes.ts";
import { modifyNode, type NodeChanges } from "../../nodes/modify-node.ts";
import { listReservations } from "../../reservations/reservations.ts";
import { authPlugin, requireAdmin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { jsonResponse, listEnvelope, parseListParams, shapeObject } from "../conventions/listing.ts";
import { checkVariables } from "./job-submission.ts";
import { mwsNodeView } from "./node-view.ts";

// MWS node states an administrator may set: drain (running jobs finish, nothing new starts), or back in service
const DRAIN = ["DRAINED", "DRAINING", "DRAIN"];
const UP = ["IDLE", "UP", "RUNNING", "BUSY"];
const FIELDS = ["genericEvents", "genericMetrics", "messages", "os", "partition", "power", "state", "variables"];

/** Checks MWS 3.6.2.1's payload; a 400 names what is wrong or what drover does not let be changed. */
function fromMwsNodeChanges(body: unknown): NodeChanges {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("The body must be a JSON object with the fields to change (MWS 3.6.2.1)");
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!FIELDS.includes(k)) throw invalid(`Invalid field "${k}": a node's ${FIELDS.join(", ")} can be modified`);
  if (b.os !== undefined) throw invalid(`Invalid field "os": a node's operating system is what its agent reports; it cannot be changed over REST`);
  if (b.power !== undefined) throw invalid(`Invalid field "power": drover has no power control for nodes; drain the node ("state": "Drained") and power it off by other means`);
  const changes: NodeChanges = {};
  if (b.state !== undefined) {
    const s = String(b.state).toUpperCase();
    if (DRAIN.includes(s)) changes.state = "drained";
    else if (UP.includes(s)) changes.state = "up";
    else throw invalid(`Invalid field "state": "${String(b.state)}" cannot be set; Drained (running jobs finish, nothing new starts) or Idle (back in service). Down is what drover marks a node whose agent stops answering`);
  }
  if (b.messages !== undefined) {
    if (!Array.isArray(b.messages) || b.messages.some((m) => typeof m !== "string" || !m || m.length > 4096) || b.messages.length > 100) throw invalid(`Invalid field "messages": must be a list of texts`);
    changes.messages = b.messages as string[];
    if (changes.state === "drained") changes.reason = changes.messages.join("; ");
  }
  if (b.variables !== undefined) {
    if (typeof b.variables !== "object" || b.variables === null || Array.isArray(b.variables) || Object.values(b.variables).some((v) => typeof v !== "string")) throw invalid(`Invalid field "variables": must map names to text`);
    checkVariables(b.variables as Record<string, string>);
    changes.variables = b.variables as Record<string, string>;
  }
  if (b.genericMetrics !== undefined) {
    if (typeof b.genericMetrics !== "object" || b.genericMetrics === null || Array.isArray(b.genericMetrics) || Object.values(b.genericMetrics).some((v) => typeof v !== "number" || !Number.isFinite(v))) throw invalid(`Invalid field "genericMetrics": must map names to numbers`);
    changes.genericMetrics = b.genericMetrics as Record<string, number>;
  }
  if (b.genericEvents !== undefined) {
    if (!Array.isArray(b.genericEvents) || b.genericEvents.some((e) => typeof e !== "object" || e === null || typeof e.name !== "string" || !e.name || (e.message !== undefined && typeof e.message !== "string"))) {
      throw invalid(`Invalid field "genericEvents": must be a list of {"name": …, "message": …}`);
    }
    changes.genericEvents = (b.genericEvents as { name: string; message?: string }[]).map((e) => ({ name: e.name, message: e.message ?? "" }));
  }
  if (b.partition !== undefined) {
    if (typeof b.partition !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(b.partition)) throw invalid(`Invalid field "partition": must be a partition name (letters, digits, _ . -)`);
    changes.partition = b.partition;
  }
  if (!Object.keys(changes).length) throw invalid("Nothing to change: give state, messages, variables, genericMetrics, genericEvents or partition");
  return changes;
}

/** MWS 3.6: nodes, from what agents registered and report; administrators drain and annotate them. */
export function nodeRoutes(ctx: ApiContext) {
  const { db } = ctx;
  const view = async (rows: NodeWithJobs[], one?: string) => {
    const [reservations, active] = await Promise.all([listReservations(db), activeSeconds(db, one)]);
    const queues = [...(ctx.core.queues?.current().queues.values() ?? [])];
    return rows.map((n) =>
      mwsNodeView(n, { reservations, classes: queues.filter((q) => !q.partition || q.partition === n.partition).map((q) => q.name), activeSeconds: active.get(n.id) ?? 0 }),
    );
  };
  return new Elysia()
    .use(authPlugin(ctx))
    .get(
      "/nodes",
      async ({ query }) => {
        const params = parseListParams(query);
        return jsonResponse(listEnvelope(await view(await listNodes(db)), params), params);
      },
      { detail: { summary: "Get all nodes", tags: ["mws"] } },
    )
    .get(
      "/nodes/:id",
      async ({ params: { id }, query }) => {
        const p = parseListParams(query);
        return jsonResponse(shapeObject((await view([await getNode(db, id)], id))[0], p), p);
      },
      { detail: { summary: "Get a single node", tags: ["mws"] } },
    )
    .put(
      "/nodes/:id",
      async ({ params: { id }, body, principal }: { params: { id: string }; body: unknown; principal: Principal }) => {
        requireAdmin(principal, "modify nodes");
        return { messages: await modifyNode(ctx.core, id, fromMwsNodeChanges(body), principal.username) };
      },
      { body: t.Unknown(), detail: { summary: "Modify a node: drain it or bring it back (state), add messages, variables, generic metrics and events, set its partition", tags: ["mws"] } },
    );
}
