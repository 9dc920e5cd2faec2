import { unauthenticated } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Db } from "../db/connect.ts";
import { findUser } from "../users/users.ts";
import type { Principal } from "./principal.ts";
import type { TokenIssuer } from "./tokens.ts";

// Password hashes are deliberately slow; MWS and MDWorkbench clients send Basic credentials
// on every call, so a successful check is remembered briefly (keyed by a hash of the pair).
const BASIC_CACHE_MS = 60_000;

/** Turns an Authorization header into a principal, or throws 401 with the reason. */
export class Authenticator {
  private basicCache = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly db: Db,
    readonly tokens: TokenIssuer,
  ) {}

  /** Checks a username and password against the stored hash. */
  async checkPassword(username: string, password: string): Promise<Principal> {
    const user = await findUser(this.db, username);
    // Verify against a dummy hash when the user does not exist, so timing does not reveal names.
    const ok = user
      ? await Bun.password.verify(password, user.passwordHash)
      : (await Bun.password.verify(password, DUMMY_HASH), false);
    if (!user || !ok) throw unauthenticated("Wrong username or password");
    return { username: user.username, role: user.role };
  }

  /** Authenticates a request from its Authorization header (Bearer JWT or Basic). */
  async fromHeader(header: string | null): Promise<Principal> {
    if (!header) throw unauthenticated("You are unauthorized to access this area: send Authorization: Bearer <token> (from POST /auth/token) or Basic credentials");
    const space = header.indexOf(" ");
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (space > 0 && scheme === "bearer" && value) return this.tokens.verify(value);
    if (space > 0 && scheme === "basic" && value) return this.fromBasic(value);
    throw unauthenticated("The Authorization header must be 'Bearer <token>' or 'Basic <base64 user:password>'");
  }

  private async fromBasic(encoded: string): Promise<Principal> {
    const key = new Bun.CryptoHasher("sha256").update(encoded).digest("hex");
    const cached = this.basicCache.get(key);
    if (cached && cached.until > now()) return cached.principal;
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw unauthenticated("Basic credentials must be base64 of user:password");
    const principal = await this.checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (this.basicCache.size > 10_000) this.basicCache.clear();
    this.basicCache.set(key, { principal, until: now() + BASIC_CACHE_MS });
    return principal;
  }

  /** Forgets remembered Basic credentials (after a password change or user deletion). */
  forgetCredentials(): void {
    this.basicCache.clear();
  }
}

const DUMMY_HASH = await Bun.password.hash("drover-timing-equaliser");
