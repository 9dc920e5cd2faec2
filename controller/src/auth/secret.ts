import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The HMAC key that signs user tokens: generated on first start and kept in
 * DROVER_HOME/keys/jwt-secret, readable by the owner only.
 */
export function loadSigningSecret(home: string): Uint8Array {
  const file = join(home, "keys", "jwt-secret");
  if (existsSync(file)) {
    const hex = readFileSync(file, "utf8").trim();
    if (!/^[0-9a-f]{64,}$/.test(hex)) throw new Error(`${file} is damaged: expected at least 64 hex digits`);
    return Buffer.from(hex, "hex");
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = crypto.getRandomValues(new Uint8Array(32));
  writeFileSync(file, Buffer.from(secret).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
  return secret;
}
