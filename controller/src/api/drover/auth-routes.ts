import { Elysia, t } from "elysia";
import { notFound } from "@drover/shared/errors";
import { createUser, deleteUser, listUsers, updateUser } from "../../users/users.ts";
import { authPlugin } from "../auth-plugin.ts";
import type { ApiContext } from "../context.ts";

const Credentials = t.Object({
  username: t.String({ minLength: 1, maxLength: 64 }),
  password: t.String({ minLength: 1, maxLength: 1024 }),
});

const userView = (u: { username: string; role: string; unixUser: string | null; groups: string[]; createdAt: Date }) => ({
  username: u.username,
  role: u.role,
  unixUser: u.unixUser,
  groups: u.groups,
  createdAt: u.createdAt.toISOString(),
});

const groupsField = t.Optional(
  t.Array(t.String({ pattern: "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$" }), { maxItems: 64, description: "the groups the user is in (reservation ACL rules of type GROUP match them)" }),
);

const unixUserField = t.Optional(
  t.Union([t.String({ minLength: 1, maxLength: 32 }), t.Null()], {
    description: 'the Unix account its jobs run as on agents running as root (null or absent: the account of the same name; "root": its jobs may run as root)',
  }),
);

/** POST /auth/token (open): exchanges a username and password for a JWT. */
export function tokenRoutes(ctx: ApiContext) {
  return new Elysia().post(
    "/auth/token",
    async ({ body, request, server }) => {
      const principal = await ctx.auth.checkPassword(body.username, body.password, server?.requestIP(request)?.address ?? "");
      return ctx.auth.tokens.issue(principal);
    },
    {
      body: Credentials,
      detail: { summary: "Get a token", description: "Returns {token, duration}; duration is the lifetime in milliseconds.", tags: ["auth"] },
    },
  );
}

/** User administration: admins create, list and delete users. */
export function userRoutes(ctx: ApiContext) {
  return new Elysia({ prefix: "/auth/users" })
    .use(authPlugin(ctx))
    .post(
      "/",
      async ({ body, principal, set }) => {
        const user = await createUser(ctx.db, principal, body);
        set.status = 201;
        set.headers.location = `/auth/users/${user.username}`;
        return userView(user);
      },
      {
        body: t.Object({
          username: t.String({ minLength: 1, maxLength: 64 }),
          password: t.String({ minLength: 8, maxLength: 1024 }),
          role: t.Optional(t.Union([t.Literal("admin"), t.Literal("user")])),
          unixUser: unixUserField,
          groups: groupsField,
        }),
        detail: { summary: "Create a user (admin)", tags: ["auth"] },
      },
    )
    .patch(
      "/:username",
      async ({ params, body, principal }) => {
        const user = await updateUser(ctx.db, principal, params.username, body);
        if (!user) throw notFound(`The user '${params.username}' was not found`);
        if (body.password !== undefined || body.role !== undefined) ctx.auth.forgetCredentials();
        return userView(user);
      },
      {
        body: t.Object({
          password: t.Optional(t.String({ minLength: 8, maxLength: 1024 })),
          role: t.Optional(t.Union([t.Literal("admin"), t.Literal("user")])),
          unixUser: unixUserField,
          groups: groupsField,
        }),
        detail: { summary: "Change a user (admin): role, password, groups, or the Unix account its jobs run as", tags: ["auth"] },
      },
    )
    .get("/", async ({ principal }) => (await listUsers(ctx.db, principal)).map(userView), {
      detail: { summary: "List users (admin)", tags: ["auth"] },
    })
    .delete(
      "/:username",
      async ({ params, principal }) => {
        if (!(await deleteUser(ctx.db, principal, params.username))) throw notFound(`The user '${params.username}' was not found`);
        ctx.auth.forgetCredentials();
        return new Response(null, { status: 200 });
      },
      { detail: { summary: "Delete a user (admin)", tags: ["auth"] } },
    );
}
