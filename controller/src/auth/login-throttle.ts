import { logger } from "@drover/shared/log";

const log = logger("auth");

/**
 * Slows password guessing: each user name and each client address has a bucket of failed
 * sign-ins — `burst` at once, then one more every `refillMs` — and while it is empty every
 * sign-in for that name or from that address is refused (429) without the password being
 * checked. A success empties nothing but the user's own count. The first refusal of a run is
 * logged (never a password).
 */
export class LoginThrottle {
  private buckets = new Map<string, { tokens: number; at: number; logged: boolean }>();

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
    private readonly what: string,
  ) {}

  private bucket(key: string, at: number) {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 100_000) this.buckets.clear(); // a flood of names: start afresh
      b = { tokens: this.burst, at, logged: false };
      this.buckets.set(key, b);
    }
    const refilled = Math.floor((at - b.at) / this.refillMs);
    if (refilled > 0) {
      b.tokens = Math.min(this.burst, b.tokens + refilled);
      b.at += refilled * this.refillMs;
      if (b.tokens === this.burst) b.at = at;
    }
    return b;
  }

  /** Milliseconds until the key may try again (0: now). */
  waitFor(key: string, at = Date.now()): number {
    const b = this.bucket(key, at);
    if (b.tokens > 0) return 0;
    if (!b.logged) {
      b.logged = true;
      log.warn("sign-ins throttled after repeated failures", { [this.what]: key, perMinute: Math.round(60_000 / this.refillMs) });
    }
    return b.at + this.refillMs - at;
  }

  fail(key: string, at = Date.now()): void {
    const b = this.bucket(key, at);
    b.tokens = Math.max(0, b.tokens - 1);
  }

  succeed(key: string): void {
    this.buckets.delete(key);
  }
}
