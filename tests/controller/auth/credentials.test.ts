// Credentials: tokens that must not work, and password guessing slowed to the documented rate.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { users } from "../../../controller/src/db/schema.ts";
import { forEachDatabase } from "../../helpers/databases.ts";
import { ADMIN_PASSWORD, startTestController, type TestController } from "../../helpers/controller.ts";
import { loadSigningSecret } from "../../../controller/src/auth/secret.ts";
import { LoginThrottle } from "../../../controller/src/auth/login-throttle.ts";
import { LOGIN_LIMITS } from "../../../controller/src/auth/authenticate.ts";

test("the throttle allows a burst, then one attempt per refill period; a success clears a user's count", () => {
  const t = new LoginThrottle(3, 1000, "user");
  for (let i = 0; i < 3; i++) {
    expect(t.waitFor("bob", 0)).toBe(0);
    t.fail("bob", 0);
  }
  expect(t.waitFor("bob", 0)).toBe(1000);
  expect(t.waitFor("bob", 999)).toBe(1);
  expect(t.waitFor("bob", 1000)).toBe(0);
  t.fail("bob", 1000);
  expect(t.waitFor("bob", 1500)).toBe(500);
  expect(t.waitFor("alice", 1500)).toBe(0); // by key
  t.succeed("bob");
  expect(t.waitFor("bob", 1500)).toBe(0);
});

await forEachDatabase("credentials", (database) => {
  let c: TestController;
  beforeAll(async () => {
    c = await startTestController(database());
  });
  afterAll(() => c.stop());

  test("expired, tampered, unsigned, other-algorithm, wrong-key tokens and a deleted user's are all 401", async () => {
    const secret = loadSigningSecret(c.home);
    const sign = (claims: Record<string, unknown>, key = secret, alg = "HS256", exp = Math.floor(Date.now() / 1000) + 600) =>
      new SignJWT(claims).setProtectedHeader({ alg }).setSubject(String(claims.sub ?? "admin")).setIssuer("drover").setIssuedAt().setExpirationTime(exp).sign(key);
    const good = await sign({ role: "admin", sub: "admin" });
    expect((await c.request("/jobs", { token: good })).status).toBe(200);
    const [h, p, s] = good.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: "someone-else" })).toString("base64url")}.${s}`;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${p}.`;
    const bad = [
      ["expired", await sign({ role: "admin", sub: "admin" }, secret, "HS256", Math.floor(Date.now() / 1000) - 10)],
      ["tampered", tampered],
      ["alg none", unsigned],
      ["HS512", await sign({ role: "admin", sub: "admin" }, secret, "HS512")],
      ["wrong key", await sign({ role: "admin", sub: "admin" }, new TextEncoder().encode("x".repeat(64)))],
    ];
    for (const [what, token] of bad) expect({ what, status: (await c.request("/jobs", { token })).status }).toEqual({ what, status: 401 });
    // a user deleted while holding a token
    const userToken = await c.userToken("leaving");
    expect((await c.request("/jobs", { token: userToken })).status).toBe(200);
    expect((await c.request("/auth/users/leaving", { method: "DELETE", token: await c.adminToken() })).status).toBeLessThan(300);
    const gone = await c.request("/jobs", { token: userToken });
    expect(gone.status).toBe(401);
  });

  test("passwords are stored with argon2id at 19 MiB; a hash made with other parameters (Bun's default 64 MiB, older drovers) still signs in", async () => {
    await c.userToken("hashed");
    const stored = async (name: string) => (await database().db.select({ hash: users.passwordHash }).from(users).where(eq(users.username, name)))[0]!.hash;
    expect(await stored("hashed")).toStartWith("$argon2id$v=19$m=19456,t=2,p=1$");
    await database().db.update(users).set({ passwordHash: await Bun.password.hash("older-password") }).where(eq(users.username, "hashed"));
    expect(await stored("hashed")).toStartWith("$argon2id$v=19$m=65536,");
    expect((await c.request("/auth/token", { method: "POST", json: { username: "hashed", password: "older-password" } })).status).toBe(200);
    expect((await c.request("/auth/token", { method: "POST", json: { username: "hashed", password: "hashed-password" } })).status).toBe(401);
  });

  test("1,000 guessed passwords: 10 are checked, the rest refused at once (429), the right one too while throttled; other users are not affected", async () => {
    await c.userToken("victim");
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const res = await c.request("/auth/token", { method: "POST", json: { username: "victim", password: `guess-${i}` } });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (i === 999) expect(((await res.json()) as { messages: string[] }).messages[0]).toMatch(/^Too many failed sign-ins for victim.*try again in \d+ s$/);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: LOGIN_LIMITS.user.burst, 429: 1000 - LOGIN_LIMITS.user.burst });
    expect((await c.request("/auth/token", { method: "POST", json: { username: "victim", password: "victim-password" } })).status).toBe(429);
    expect((await c.request("/auth/token", { method: "POST", json: { username: "admin", password: ADMIN_PASSWORD } })).status).toBe(200);
    // Basic credentials on any route count the same
    const basic = await c.request("/jobs", { headers: { authorization: `Basic ${btoa("victim:victim-password")}` } });
    expect(basic.status).toBe(429);
  }, 60_000);
});
