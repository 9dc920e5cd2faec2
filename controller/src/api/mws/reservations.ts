import { Elysia, t } from "elysia";
import { invalid } from "@drover/shared/errors";
import type { Principal } from "../../auth/principal.ts";
import { checkAclRules } from "../../reservations/acl.ts";
import { changeVariables, createReservation, deleteAclRule, getReservation, listReservations, putAclRules, releaseReservation } from "../../reservations/reservations.ts";
import { authPlugin, requireAdmin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";
import { jsonResponse, listEnvelope, parseListParams, shapeObject } from "../conventions/listing.ts";
import { checkVariables } from "./job-submission.ts";
import { fromMwsReservation, mwsReservationView, mwsStandingReservationView } from "./reservation-view.ts";
import { notFound } from "@drover/shared/errors";

type Query = Record<string, string | undefined>;
type Req = { params: { id: string }; query: Query; principal: Principal };

/** MWS 3.11 reservations and 3.1 their ACL rules: everyone reads; administrators create, change and release. */
export function reservationRoutes(ctx: ApiContext, prefix: string) {
  const { db } = ctx;
  const standing = () => ctx.core.standing?.current() ?? new Map();
  const standingIds = () => new Set<string>(standing().keys());
  return new Elysia()
    .use(authPlugin(ctx))
    .get(
      "/reservations",
      async ({ query }: { query: Query }) => {
        const params = parseListParams(query);
        return jsonResponse(listEnvelope((await listReservations(db)).map(mwsReservationView), params), params);
      },
      { detail: { summary: "Get all reservations (not released, not ended)", tags: ["mws reservations"] } },
    )
    .get(
      "/reservations/:id",
      async ({ params: { id }, query }: Req) => {
        const p = parseListParams(query);
        return jsonResponse(shapeObject(mwsReservationView(await getReservation(db, id)), p), p);
      },
      { detail: { summary: "Get a single reservation", tags: ["mws reservations"] } },
    )
    .post(
      "/reservations",
      async ({ body, principal, query }: { body: unknown; principal: Principal; query: Query }) => {
        requireAdmin(principal, "create reservations");
        const r = await createReservation(db, fromMwsReservation(body, principal.username), principal.username);
        ctx.core.kick();
        return jsonResponse({ id: r.id }, parseListParams(query), 201, { location: `${prefix}/reservations/${r.id}` });
      },
      { body: t.Unknown(), detail: { summary: "Create a reservation (by hostListExpression, or by requirements and resources) when its resources are free for its window", tags: ["mws reservations"] } },
    )
    .put(
      "/reservations/:id",
      async ({ params: { id }, body, query, principal }: Req & { body: unknown }) => {
        requireAdmin(principal, "modify reservations");
        const mode = query["change-mode"];
        if (mode !== "add" && mode !== "remove" && mode !== "set") throw invalid(`The change-mode parameter is required: add, remove or set (the variables)`);
        const b = body as { variables?: unknown } | null;
        if (typeof b !== "object" || b === null || Array.isArray(b)) throw invalid(`The body must be {"variables": {...}}`);
        for (const k of Object.keys(b)) if (k !== "variables") throw invalid(`Invalid field "${k}": only a reservation's variables can be modified`);
        const vars = b.variables ?? {};
        if (typeof vars !== "object" || vars === null || Array.isArray(vars) || Object.values(vars).some((v) => typeof v !== "string")) throw invalid(`Invalid field "variables": must map names to text`);
        checkVariables(vars as Record<string, string>);
        const r = await changeVariables(db, id, mode, vars as Record<string, string>);
        return { messages: [`reservation '${r.id}' attribute 'Variable' changed.`] };
      },
      { body: t.Unknown(), detail: { summary: "Add, remove or set a reservation's variables (?change-mode=add|remove|set)", tags: ["mws reservations"] } },
    )
    .delete(
      "/reservations/:id",
      async ({ params: { id }, principal }: Req) => {
        requireAdmin(principal, "release reservations");
        await releaseReservation(db, id);
        ctx.core.kick();
        return {};
      },
      { detail: { summary: "Release a reservation: its resources are free at once", tags: ["mws reservations"] } },
    )
    .get(
      "/standing-reservations",
      async ({ query }: { query: Query }) => {
        const params = parseListParams(query);
        return jsonResponse(listEnvelope([...standing().values()].map(mwsStandingReservationView), params), params);
      },
      { detail: { summary: "Get all standing reservations (defined in DROVER_HOME/etc/standing-reservations.yaml)", tags: ["mws reservations"] } },
    )
    .get(
      "/standing-reservations/:id",
      async ({ params: { id }, query }: Req) => {
        const p = parseListParams(query);
        const sr = standing().get(id);
        if (!sr) throw notFound(`The resource with id '${id}' was not found`);
        return jsonResponse(shapeObject(mwsStandingReservationView(sr), p), p);
      },
      { detail: { summary: "Get a single standing reservation", tags: ["mws reservations"] } },
    )
    .put(
      "/reservations/:id/acl-rules",
      async ({ params: { id }, body, principal }: Req & { body: unknown }) => {
        requireAdmin(principal, "change reservations' ACL rules");
        const b = body as { aclRules?: unknown } | null;
        if (typeof b !== "object" || b === null || Array.isArray(b) || b.aclRules === undefined) throw invalid(`The body must be {"aclRules": [{"type": "USER", "value": "ted", "comparator": "LEXIGRAPHIC_EQUAL", "affinity": "POSITIVE"}]}`);
        for (const k of Object.keys(b)) if (k !== "aclRules") throw invalid(`Invalid field "${k}": the body holds aclRules only`);
        const r = await putAclRules(db, id, checkAclRules(b.aclRules), standingIds());
        ctx.core.kick();
        return { messages: [`Reservation '${r.id}' successfully modified`] };
      },
      { body: t.Unknown(), detail: { summary: "Create or update ACL rules (a rule with the same type and value is overwritten)", tags: ["mws reservations"] } },
    )
    .delete(
      "/reservations/:id/acl-rules/:aclId",
      async ({ params: { id, aclId }, principal }: { params: { id: string; aclId: string }; principal: Principal }) => {
        requireAdmin(principal, "change reservations' ACL rules");
        // (Elysia has decoded the path parameter already: decoding again lost "%" and threw on a lone one)
        const r = await deleteAclRule(db, id, aclId, standingIds());
        ctx.core.kick();
        return { messages: [`Successfully modified reservation '${r.id}'`] };
      },
      { detail: { summary: "Delete an ACL rule (its id is TYPE:VALUE)", tags: ["mws reservations"] } },
    );
}
