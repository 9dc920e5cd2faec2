// wr job keys.
//
// wr identifies a job by its Key: a CityHash128 of the command (and, where they matter, its
// working directory and container), printed as 32 hex digits. The hash is Google's CityHash128
// v1.1, which is what Go's go-farm Fingerprint128 and farmhash's farmhashcc::Fingerprint128
// compute. It is implemented here with BigInt, every result masked to 64 bits, and
// little-endian fetches.

const MASK64 = (1n << 64n) - 1n;

// Some primes between 2^63 and 2^64 (CityHash's k0, k1, k2).
const K0 = 0xc3a5c85c97cb3127n;
const K1 = 0xb492b66fbe98f273n;
const K2 = 0x9ae16a3b2f90404fn;
const KMUL = 0x9ddfea08eb382d69n;

/** A 128-bit hash as two unsigned 64-bit words. */
export type Hash128 = { low: bigint; high: bigint };

type Pair = [bigint, bigint];

function mask(v: bigint): bigint {
  return v & MASK64;
}

function mul(a: bigint, b: bigint): bigint {
  return (a * b) & MASK64;
}

function add(...vs: bigint[]): bigint {
  let sum = 0n;
  for (const v of vs) sum += v;
  return sum & MASK64;
}

function fetch64(s: Uint8Array, i: number): bigint {
  let v = 0n;
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(s[i + k]);
  return v;
}

function fetch32(s: Uint8Array, i: number): bigint {
  return BigInt((s[i] | (s[i + 1] << 8) | (s[i + 2] << 16) | (s[i + 3] << 24)) >>> 0);
}

/** Bitwise right rotate of a 64-bit value. */
function rotate(v: bigint, shift: number): bigint {
  if (shift === 0) return v;
  const n = BigInt(shift);
  return ((v >> n) | (v << (64n - n))) & MASK64;
}

function shiftMix(v: bigint): bigint {
  return v ^ (v >> 47n);
}

/** Murmur-inspired hash of two 64-bit words (Hash128to64 when mul is the default). */
function hashLen16(u: bigint, v: bigint, m: bigint = KMUL): bigint {
  let a = mul(u ^ v, m);
  a ^= a >> 47n;
  let b = mul(v ^ a, m);
  b ^= b >> 47n;
  return mul(b, m);
}

function hashLen0to16(s: Uint8Array): bigint {
  const len = s.length;
  if (len >= 8) {
    const m = add(K2, BigInt(len * 2));
    const a = add(fetch64(s, 0), K2);
    const b = fetch64(s, len - 8);
    const c = add(mul(rotate(b, 37), m), a);
    const d = mul(add(rotate(a, 25), b), m);
    return hashLen16(c, d, m);
  }
  if (len >= 4) {
    const m = add(K2, BigInt(len * 2));
    const a = fetch32(s, 0);
    return hashLen16(add(BigInt(len), a << 3n), fetch32(s, len - 4), m);
  }
  if (len > 0) {
    const a = s[0];
    const b = s[len >> 1];
    const c = s[len - 1];
    const y = BigInt((a + (b << 8)) >>> 0);
    const z = BigInt((len + (c << 2)) >>> 0);
    return mul(shiftMix(mul(y, K2) ^ mul(z, K0)), K2);
  }
  return K2;
}

/** Returns a 16-byte hash for the 32 bytes at s[i..i+32), seeded with a and b. */
function weakHashLen32WithSeeds(s: Uint8Array, i: number, a: bigint, b: bigint): Pair {
  const w = fetch64(s, i);
  const x = fetch64(s, i + 8);
  const y = fetch64(s, i + 16);
  const z = fetch64(s, i + 24);
  a = add(a, w);
  b = rotate(add(b, a, z), 21);
  const c = a;
  a = add(a, x, y);
  b = add(b, rotate(a, 44));
  return [add(a, z), add(b, c)];
}

/** CityHash128's hash for inputs shorter than 128 bytes. */
function cityMurmur(s: Uint8Array, seed: Hash128): Hash128 {
  const len = s.length;
  let a = seed.low;
  let b = seed.high;
  let c: bigint;
  let d: bigint;
  let l = len - 16;
  if (l <= 0) {
    a = mul(shiftMix(mul(a, K1)), K1);
    c = add(mul(b, K1), hashLen0to16(s));
    d = shiftMix(add(a, len >= 8 ? fetch64(s, 0) : c));
  } else {
    c = hashLen16(add(fetch64(s, len - 8), K1), a);
    d = hashLen16(add(b, BigInt(len)), add(c, fetch64(s, len - 16)));
    a = add(a, d);
    let off = 0;
    do {
      a ^= mul(shiftMix(mul(fetch64(s, off), K1)), K1);
      a = mul(a, K1);
      b ^= a;
      c ^= mul(shiftMix(mul(fetch64(s, off + 8), K1)), K1);
      c = mul(c, K1);
      d ^= c;
      off += 16;
      l -= 16;
    } while (l > 0);
  }
  a = hashLen16(a, c);
  b = hashLen16(d, b);
  return { low: a ^ b, high: hashLen16(b, a) };
}

function cityHash128WithSeed(s: Uint8Array, seed: Hash128): Hash128 {
  if (s.length < 128) return cityMurmur(s, seed);

  // Keep 56 bytes of state: v, w, x, y and z.
  let len = s.length;
  let x = seed.low;
  let y = seed.high;
  let z = mul(BigInt(len), K1);
  const v0 = add(mul(rotate(y ^ K1, 49), K1), fetch64(s, 0));
  let v: Pair = [v0, add(mul(rotate(v0, 42), K1), fetch64(s, 8))];
  let w: Pair = [
    add(mul(rotate(add(y, z), 35), K1), x),
    mul(rotate(add(x, fetch64(s, 88)), 53), K1),
  ];

  let off = 0;
  // Two rounds of CityHash64's 64-byte inner loop per 128 bytes.
  do {
    for (let round = 0; round < 2; round++) {
      x = mul(rotate(add(x, y, v[0], fetch64(s, off + 8)), 37), K1);
      y = mul(rotate(add(y, v[1], fetch64(s, off + 48)), 42), K1);
      x ^= w[1];
      y = add(y, v[0], fetch64(s, off + 40));
      z = mul(rotate(add(z, w[0]), 33), K1);
      v = weakHashLen32WithSeeds(s, off, mul(v[1], K1), add(x, w[0]));
      w = weakHashLen32WithSeeds(s, off + 32, add(z, w[1]), add(y, fetch64(s, off + 16)));
      [z, x] = [x, z];
      off += 64;
    }
    len -= 128;
  } while (len >= 128);

  x = add(x, mul(rotate(add(v[0], z), 49), K0));
  y = add(mul(y, K0), rotate(w[1], 37));
  z = add(mul(z, K0), rotate(w[0], 27));
  w[0] = mul(w[0], 9n);
  v[0] = mul(v[0], K0);
  // If 0 < len < 128, hash up to four 32-byte chunks taken from the end of the input.
  for (let tailDone = 0; tailDone < len; ) {
    tailDone += 32;
    y = add(mul(rotate(add(x, y), 42), K0), v[1]);
    w[0] = add(w[0], fetch64(s, off + len - tailDone + 16));
    x = add(mul(x, K0), w[0]);
    z = add(z, w[1], fetch64(s, off + len - tailDone));
    w[1] = add(w[1], v[0]);
    v = weakHashLen32WithSeeds(s, off + len - tailDone, add(v[0], z), v[1]);
    v[0] = mul(v[0], K0);
  }
  // Two different 56-byte-to-8-byte hashes give the 16-byte result.
  x = hashLen16(x, v[0]);
  y = hashLen16(add(y, z), w[0]);
  return {
    low: add(hashLen16(add(x, v[1]), w[1]), y),
    high: hashLen16(add(x, w[1]), add(y, v[1])),
  };
}

/**
 * Google CityHash128 v1.1 of bytes (the same as go-farm's Fingerprint128 and
 * farmhashcc::Fingerprint128).
 */
export function cityHash128(bytes: Uint8Array): Hash128 {
  if (bytes.length >= 16) {
    return cityHash128WithSeed(bytes.subarray(16), {
      low: fetch64(bytes, 0),
      high: add(fetch64(bytes, 8), K0),
    });
  }
  return cityHash128WithSeed(bytes, { low: K0, high: K1 });
}

export type WrJobKeyOptions = {
  cmd: string;
  cwd?: string;
  cwdMatters?: boolean;
  /** Like "docker:ubuntu" or "singularity:/path/img.sif". */
  containerImage?: string;
  containerMounts?: string;
};

/**
 * wr's job Key: CityHash128 of `cmd + "."` (or `cwd + "." + cmd + "."` when cwdMatters), with
 * `"." + containerImage + "." + containerMounts` appended when there is a container image,
 * printed as the low then the high 64-bit word, each as 16 lowercase hex digits.
 */
export function wrJobKey(opts: WrJobKeyOptions): string {
  let text = opts.cwdMatters ? `${opts.cwd ?? ""}.${opts.cmd}.` : `${opts.cmd}.`;
  if (opts.containerImage) {
    text += `.${opts.containerImage}.${opts.containerMounts ?? ""}`;
  }
  const { low, high } = cityHash128(new TextEncoder().encode(text));
  return hex64(low) + hex64(high);
}

function hex64(v: bigint): string {
  return mask(v).toString(16).padStart(16, "0");
}
