import { DroverError, unauthenticated } from "@drover/shared/errors";
import { LoginThrottle } from "./login-throttle.ts";
import { now } from "@drover/shared/clock";
import type { Db } from "../db/connect.ts";
import { findUser } from "../users/users.ts";
import type { Principal } from "./principal.ts";
import type { TokenIssuer } from "./tokens.ts";
import { dummyHash } from "./password-hash.ts";

// Password hashes are deliberately slow; MWS and MDWorkbench clients send Basic credentials
// on every call, so a successful check is remembered briefly (keyed by a hash of the pair).
const BASIC_CACHE_MS = 60_000;
/** How long a token's user is known to exist before it is looked up again. */
const USER_CACHE_MS = 10_000;
/** Failed sign-ins: 10 at once per user name, then one every 6 s; 30 per client address, then one every 2 s. */
export const LOGIN_LIMITS = { user: { burst: 10, refillMs: 6_000 }, address: { burst: 30, refillMs: 2_000 } };

const isLoopback = (address: string) => address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");

/** Turns an Authorization header into a principal, or throws 401 with the reason. */
export class Authenticator {
  private basicCache = new Map<string, { principal: Principal; until: number }>();
  private usersSeen = new Map<string, number>();
  private readonly byUser = new LoginThrottle(LOGIN_LIMITS.user.burst, LOGIN_LIMITS.user.refillMs, "user");
  private readonly byAddress = new LoginThrottle(LOGIN_LIMITS.address.burst, LOGIN_LIMITS.address.refillMs, "address");

  constructor(
    private readonly db: Db,
    readonly tokens: TokenIssuer,
  ) {}

  /**
   * Checks a username and password against the stored hash; repeated failures for a name or
   * from an address are throttled (429, see LOGIN_LIMITS).
   */
  async checkPassword(username: string, password: string, clientAddress = ""): Promise<Principal> {
    // loopback is a proxy's or a local client's: per-address limits would lock every user out
    const address = isLoopback(clientAddress) ? "" : clientAddress;
    const wait = Math.max(this.byUser.waitFor(username), address ? this.byAddress.waitFor(address) : 0);
    if (wait > 0) throw new DroverError("too_many_requests", `Too many failed sign-ins for ${username}${address ? ` or from ${address}` : ""}: try again in ${Math.ceil(wait / 1000)} s`);
    const user = await findUser(this.db, username);
    // Verify against a dummy hash when the user does not exist, so timing does not reveal names.
    const ok = user
      ? await Bun.password.verify(password, user.passwordHash)
      : (await Bun.password.verify(password, await dummyHash()), false);
    if (!user || !ok) {
      this.byUser.fail(username);
      if (address) this.byAddress.fail(address);
      throw unauthenticated("Wrong username or password");
    }
    this.byUser.succeed(username);
    return { username: user.username, role: user.role };
  }

  /** Authenticates a request from its Authorization header (Bearer JWT or Basic). */
  async fromHeader(header: string | null, address = ""): Promise<Principal> {
    if (!header) throw unauthenticated("You are unauthorized to access this area: send Authorization: Bearer <token> (from POST /auth/token) or Basic credentials");
    const space = header.indexOf(" ");
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (space > 0 && scheme === "bearer" && value) return this.stillAUser(await this.tokens.verify(value));
    if (space > 0 && scheme === "basic" && value) return this.fromBasic(value, address);
    throw unauthenticated("The Authorization header must be 'Bearer <token>' or 'Basic <base64 user:password>'");
  }

  /** A token's user must still exist: a deleted user's tokens stop working (within USER_CACHE_MS). */
  async stillAUser(principal: Principal): Promise<Principal> {
    const seen = this.usersSeen.get(principal.username);
    if (seen !== undefined && seen > now()) return principal;
    if (!(await findUser(this.db, principal.username))) throw unauthenticated("The token's user no longer exists");
    if (this.usersSeen.size > 10_000) this.usersSeen.clear();
    this.usersSeen.set(principal.username, now() + USER_CACHE_MS);
    return principal;
  }

  private async fromBasic(encoded: string, address: string): Promise<Principal> {
    const key = new Bun.CryptoHasher("sha256").update(encoded).digest("hex");
    const cached = this.basicCache.get(key);
    if (cached && cached.until > now()) return cached.principal;
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw unauthenticated("Basic credentials must be base64 of user:password");
    const principal = await this.checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1), address);
    if (this.basicCache.size > 10_000) this.basicCache.clear();
    this.basicCache.set(key, { principal, until: now() + BASIC_CACHE_MS });
    return principal;
  }

  /** Forgets remembered Basic credentials (after a password change or user deletion). */
  forgetCredentials(): void {
    this.basicCache.clear();
    this.usersSeen.clear();
  }
}
