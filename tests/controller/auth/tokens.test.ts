import { afterAll, beforeAll, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ManualClock, setClock } from "../../../shared/src/clock.ts";
import { forEachDatabase } from "../../helpers/databases.ts";
import { ADMIN_PASSWORD, startTestController, type TestController } from "../../helpers/controller.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64url");

await forEachDatabase("tokens and users", (db) => {
  let c: TestController;
  beforeAll(async () => {
    c = await startTestController(db(), { DROVER_TOKEN_LIFETIME: "1m" });
  });
  afterAll(() => c.stop());

  const about = (init: RequestInit & { token?: string } = {}) => c.request("/rest/diag/about", init);
  const expect401 = async (res: Response, pattern: RegExp) => {
    expect(res.status).toBe(401);
    const body = (await res.json()) as { messages: string[] };
    expect(body.messages.join(" ")).toMatch(pattern);
  };

  test("POST /auth/token returns a token and its duration in milliseconds", async () => {
    const res = await c.request("/auth/token", { method: "POST", json: { username: "admin", password: ADMIN_PASSWORD } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; duration: number };
    expect(body.duration).toBe(60_000);
    expect(body.token.split(".")).toHaveLength(3);
    expect((await about({ token: body.token })).status).toBe(200);
  });

  test("GET /rest/diag/about answers 401 without credentials", async () => {
    await expect401(await about(), /unauthorized/i);
  });

  test("a wrong password gets 401 and no token", async () => {
    const res = await c.request("/auth/token", { method: "POST", json: { username: "admin", password: "wrong" } });
    await expect401(res, /Wrong username or password/);
  });

  test("an unknown user gets the same 401 as a wrong password", async () => {
    const res = await c.request("/auth/token", { method: "POST", json: { username: "nobody", password: "whatever1" } });
    await expect401(res, /Wrong username or password/);
  });

  test("an expired token is refused with a message saying it expired", async () => {
    const secret = Buffer.from(readFileSync(join(c.home, "keys", "jwt-secret"), "utf8").trim(), "hex");
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("admin")
      .setIssuer("drover")
      .setIssuedAt(past)
      .setExpirationTime(past + 60)
      .sign(secret);
    await expect401(await about({ token: expired }), /expired/);
  });

  test("a token with a tampered payload is refused", async () => {
    const token = await c.tokenFor("admin", ADMIN_PASSWORD);
    const [h, , s] = token.split(".");
    const forged = `${h}.${b64(JSON.stringify({ sub: "admin", role: "admin", iss: "drover", exp: 9999999999 }))}.${s}`;
    await expect401(await about({ token: forged }), /not valid/);
  });

  test("a token signed with another secret is refused", async () => {
    const other = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("admin")
      .setIssuer("drover")
      .setExpirationTime("1h")
      .sign(new Uint8Array(32).fill(7));
    await expect401(await about({ token: other }), /not valid/);
  });

  test("an unsigned token (alg: none) is refused", async () => {
    const none = `${b64(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64(JSON.stringify({ sub: "admin", role: "admin", iss: "drover", exp: 9999999999 }))}.`;
    await expect401(await about({ token: none }), /not valid/);
  });

  test("an Authorization header of an unknown scheme is refused", async () => {
    await expect401(await about({ headers: { authorization: "Token abc" } }), /Bearer/);
  });

  test("HTTP Basic works with the right password and is 401 with a wrong one", async () => {
    const good = Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");
    expect((await about({ headers: { authorization: `Basic ${good}` } })).status).toBe(200);
    const bad = Buffer.from("admin:nope").toString("base64");
    await expect401(await about({ headers: { authorization: `Basic ${bad}` } }), /Wrong username or password/);
  });

  test("a token stops working when its lifetime has passed", async () => {
    const clock = new ManualClock(Date.now());
    const restore = setClock(clock.read);
    try {
      const token = await c.tokenFor("admin", ADMIN_PASSWORD);
      expect((await about({ token })).status).toBe(200);
      clock.advance(61_000);
      await expect401(await about({ token }), /expired/);
    } finally {
      restore();
    }
  });

  test("admins create users; the new user gets a token and sees about", async () => {
    const token = await c.userToken("alice");
    expect((await about({ token })).status).toBe(200);
  });

  test("a user calling an admin endpoint gets 403", async () => {
    const token = await c.userToken("bob");
    const res = await c.request("/auth/users", { method: "POST", token, json: { username: "mallory", password: "password123" } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { messages: string[] }).messages[0]).toMatch(/Only administrators/);
    expect((await c.request("/auth/users", { token })).status).toBe(403);
  });

  test("creating a user twice is 409 and a bad username or short password is 400", async () => {
    const admin = await c.adminToken();
    expect((await c.request("/auth/users", { method: "POST", token: admin, json: { username: "carol", password: "password123" } })).status).toBe(201);
    expect((await c.request("/auth/users", { method: "POST", token: admin, json: { username: "carol", password: "password123" } })).status).toBe(409);
    expect((await c.request("/auth/users", { method: "POST", token: admin, json: { username: "Bad Name", password: "password123" } })).status).toBe(400);
    expect((await c.request("/auth/users", { method: "POST", token: admin, json: { username: "dan", password: "short" } })).status).toBe(400);
  });

  test("the signing secret is stored readable by its owner only", () => {
    expect(statSync(join(c.home, "keys", "jwt-secret")).mode & 0o777).toBe(0o600);
  });
});
