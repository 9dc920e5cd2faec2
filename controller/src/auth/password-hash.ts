/**
 * How passwords are hashed: argon2id with OWASP's recommended minimum (19 MiB, two passes, one
 * lane) rather than Bun's default 64 MiB — every hash and every sign-in allocates that much, which
 * took a small one-node cluster's first start (the admin's hash) over 300 MB. Hashes made with
 * other parameters still verify: they carry their own.
 */
const PARAMETERS = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;

export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, PARAMETERS);
}

let dummy: Promise<string> | undefined;

/** A hash of no one's password, with the same parameters: a sign-in as an unknown user takes as long as one as a known user. */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword("drover-timing-equaliser");
  return dummy;
}
