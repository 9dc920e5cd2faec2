import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { unauthenticated } from "@drover/shared/errors";
import { now } from "@drover/shared/clock";
import type { Principal } from "./principal.ts";

const ISSUER = "drover";
const MAX_CHECKED = 10_000;
/** The audience of the tokens controllers show one another (README "Several controllers"). */
const PEER_AUDIENCE = "drover-peer";
const PEER_TOKEN_SECONDS = 120;

/** Signs and checks user tokens (HS256 only: `alg: none` and other algorithms are refused). */
export class TokenIssuer {
  /** the secret as a WebCrypto key, imported once (jose would import the raw bytes on every check) */
  private readonly key: Promise<CryptoKey>;
  /**
   * tokens already checked, until they expire: a client sends the same token with every request,
   * and checking its signature again was a tenth of a submission's cost in the controller
   */
  private readonly checked = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(
    secret: Uint8Array,
    readonly lifetimeMs: number,
  ) {
    this.key = crypto.subtle.importKey("raw", new Uint8Array(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  }

  /** A signed token for the principal, valid for the configured lifetime (or the one given: OpenMOLE's 24 h). */
  async issue(principal: Principal, lifetimeMs = this.lifetimeMs): Promise<{ token: string; duration: number }> {
    return { token: await this.sign(principal.role, principal.username, Math.ceil(lifetimeMs / 1000)), duration: lifetimeMs };
  }

  /**
   * A short-lived token one controller shows another that shares its secret, good for the
   * peers' own routes only: its role is no user's, so no user route takes it.
   */
  issuePeer(controllerId: string): Promise<string> {
    return this.sign("peer", controllerId, PEER_TOKEN_SECONDS, PEER_AUDIENCE);
  }

  private async sign(role: string, subject: string, seconds: number, audience?: string): Promise<string> {
    const issuedAt = Math.floor(now() / 1000);
    const jwt = new SignJWT({ role }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(subject).setIssuer(ISSUER);
    if (audience) jwt.setAudience(audience);
    return jwt.setIssuedAt(issuedAt).setExpirationTime(issuedAt + seconds).sign(await this.key);
  }

  /** The controller a peer token names; unauthenticated for anything else (a user's token too). */
  async verifyPeer(token: string): Promise<string> {
    try {
      const { payload } = await jwtVerify(token, await this.key, { algorithms: ["HS256"], issuer: ISSUER, audience: PEER_AUDIENCE, currentDate: new Date(now()) });
      if (payload.role === "peer" && typeof payload.sub === "string") return payload.sub;
    } catch (e) {
      if (!(e instanceof joseErrors.JOSEError)) throw e;
    }
    throw unauthenticated("Only another controller sharing this one's secret may call this route");
  }

  /** The principal a token names, or an unauthenticated error saying what is wrong with it. */
  async verify(token: string): Promise<Principal> {
    const known = this.checked.get(token);
    if (known && known.expiresAt > now()) return known.principal;
    const { principal, expiresAt } = await this.check(token);
    if (this.checked.size >= MAX_CHECKED) this.checked.clear();
    this.checked.set(token, { principal, expiresAt });
    return principal;
  }

  private async check(token: string): Promise<{ principal: Principal; expiresAt: number }> {
    try {
      const { payload } = await jwtVerify(token, await this.key, {
        algorithms: ["HS256"],
        issuer: ISSUER,
        currentDate: new Date(now()),
      });
      const role = payload.role;
      if (typeof payload.sub !== "string" || (role !== "admin" && role !== "user")) {
        throw unauthenticated("The token does not name a user; request a new one from POST /auth/token");
      }
      // (issue always sets exp; a token without one is checked every time)
      return { principal: { username: payload.sub, role }, expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : 0 };
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) {
        throw unauthenticated("The token has expired; request a new one from POST /auth/token");
      }
      if (e instanceof joseErrors.JOSEError) {
        throw unauthenticated("The token is not valid; request a new one from POST /auth/token");
      }
      throw e;
    }
  }
}
