// Starts a real controller (REST on an ephemeral port) on a given database, for API tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../shared/src/config.ts";
import type { Database } from "../../controller/src/db/connect.ts";
import { startController, type RunningController } from "../../controller/src/controller.ts";

export const ADMIN_PASSWORD = "admin-password-for-tests";

export interface TestController extends RunningController {
  home: string;
  /** fetch against the controller with optional bearer token */
  request(path: string, init?: RequestInit & { token?: string; json?: unknown }): Promise<Response>;
  tokenFor(username: string, password: string): Promise<string>;
  adminToken(): Promise<string>;
  /** creates a user (through the REST API, as admin) and returns a token for it */
  userToken(username: string): Promise<string>;
}

/** A controller on `database` with its own temporary DROVER_HOME; stop() removes the home. */
export async function startTestController(
  database: Database,
  env: Record<string, string> = {},
  opts: { beforeStart?: (home: string) => void } = {},
): Promise<TestController> {
  const home = mkdtempSync(join(tmpdir(), "drover-test-"));
  opts.beforeStart?.(home);
  const config = loadConfig({ DROVER_HTTP_PORT: "0", DROVER_GRPC_PORT: "0", ...env }, home);
  const controller = await startController({ config, adminPassword: ADMIN_PASSWORD, database });
  let adminToken: string | undefined;
  const t: TestController = {
    ...controller,
    home,
    async request(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.token) headers.set("authorization", `Bearer ${init.token}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set("content-type", "application/json");
        body = JSON.stringify(init.json);
      }
      return fetch(controller.url + path, { ...init, headers, body });
    },
    async tokenFor(username, password) {
      const res = await t.request("/auth/token", { method: "POST", json: { username, password } });
      if (res.status !== 200) throw new Error(`token for ${username}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    },
    async adminToken() {
      adminToken ??= await t.tokenFor("admin", ADMIN_PASSWORD);
      return adminToken;
    },
    async userToken(username) {
      const res = await t.request("/auth/users", {
        method: "POST",
        token: await t.adminToken(),
        json: { username, password: `${username}-password` },
      });
      if (res.status !== 201 && res.status !== 409) throw new Error(`create ${username}: ${res.status} ${await res.text()}`);
      return t.tokenFor(username, `${username}-password`);
    },
    async stop() {
      await controller.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return t;
}
