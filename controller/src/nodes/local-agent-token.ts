import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Db } from "../db/connect.ts";
import { createAgentToken, verifyAgentToken } from "./agent-tokens.ts";

/**
 * The token of the agent that `drover start` runs beside the controller: kept in
 * DROVER_HOME/keys/local-agent-token (mode 0600), created again if missing or revoked.
 */
export async function localAgentTokenFile(db: Db, home: string): Promise<string> {
  const file = join(home, "keys", "local-agent-token");
  if (existsSync(file) && (await verifyAgentToken(db, readFileSync(file, "utf8").trim()))) return file;
  const { token } = await createAgentToken(db, "drover", "local");
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, token + "\n", { mode: 0o600 });
  return file;
}
