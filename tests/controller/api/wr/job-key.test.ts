import { describe, expect, test } from "bun:test";
import { cityHash128, wrJobKey } from "../../../../controller/src/api/wr/job-key.ts";

const encode = (s: string) => new TextEncoder().encode(s);

function hex128(h: { low: bigint; high: bigint }): string {
  return h.low.toString(16).padStart(16, "0") + h.high.toString(16).padStart(16, "0");
}

/** A 128-bit value from the four 32-bit words farmhash's self-test prints (low word first). */
function fromWords([a, b, c, d]: number[]): { low: bigint; high: bigint } {
  return {
    low: (BigInt(a) << 32n) | BigInt(b),
    high: (BigInt(c) << 32n) | BigInt(d),
  };
}

/** The pseudorandom bytes of farmhash's self-test (Setup() in google/farmhash src/farmhash.cc). */
function farmhashTestData(size: number): Uint8Array {
  const mask = (1n << 64n) - 1n;
  const k0 = 0xc3a5c85c97cb3127n;
  const data = new Uint8Array(size);
  let a = 9n;
  let b = 777n;
  for (let i = 0; i < size; i++) {
    a = (a + b) & mask;
    b = (b + a) & mask;
    a = ((a ^ (a >> 41n)) * k0) & mask;
    b = ((b ^ (b >> 41n)) * k0 + BigInt(i)) & mask;
    data[i] = Number((b >> 37n) & 0xffn);
  }
  return data;
}

describe("wrJobKey", () => {
  test("the key of a plain command is the CityHash128 of the command followed by a dot", () => {
    expect(wrJobKey({ cmd: "sleep 5" })).toBe("ea4266bc0fc7dd493caeb2fff1963e4a");
  });

  test("the key of a command longer than 16 bytes matches wr", () => {
    expect(wrJobKey({ cmd: "sleep 5 && echo mymsg && false" })).toBe(
      "58cef10e7a340c3b7fa09ea304a3cb98",
    );
  });

  test("commands that differ by one character get the keys wr gives them", () => {
    expect(wrJobKey({ cmd: "echo 1 && true" })).toBe("de6d167c58701e55f5b9f9e1e91d7807");
    expect(wrJobKey({ cmd: "echo 2 && true" })).toBe("f5c0d6240167a6e0b803e23f74e3a085");
  });

  test("when the working directory matters it is hashed in front of the command", () => {
    expect(wrJobKey({ cmd: "echo 3 && false", cwd: "/tmp", cwdMatters: true })).toBe(
      "db1e7d99becace3306c1c2470331c78e",
    );
  });

  test("the working directory is ignored when it does not matter", () => {
    expect(wrJobKey({ cmd: "echo 3 && false", cwd: "/tmp" })).toBe(
      wrJobKey({ cmd: "echo 3 && false" }),
    );
    expect(wrJobKey({ cmd: "echo 3 && false", cwd: "/tmp" })).not.toBe(
      wrJobKey({ cmd: "echo 3 && false", cwd: "/tmp", cwdMatters: true }),
    );
  });

  test("a container image and its mounts are appended to the hashed text", () => {
    const key = wrJobKey({
      cmd: "sleep 5",
      containerImage: "docker:ubuntu",
      containerMounts: "/data:/data",
    });
    expect(key).toBe(hex128(cityHash128(encode("sleep 5..docker:ubuntu./data:/data"))));
    expect(key).not.toBe(wrJobKey({ cmd: "sleep 5" }));
  });

  test("the key is 32 lowercase hex digits, low word first", () => {
    const key = wrJobKey({ cmd: "sleep 5" });
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    const { low, high } = cityHash128(encode("sleep 5."));
    expect(key.slice(0, 16)).toBe(low.toString(16).padStart(16, "0"));
    expect(key.slice(16)).toBe(high.toString(16).padStart(16, "0"));
  });
});

describe("cityHash128", () => {
  // From TestFingerprint128 in github.com/dgryski/go-farm (farm_test.go); Go prints (lo, hi).
  test.each([
    ["abcdef", 8033370924408288235n, 9054869399155703984n],
    [
      "There is no reason for any individual to have a computer in their home. -Ken Olsen, 1977",
      3547689611939963773n,
      352412539875473798n,
    ],
    [
      // 148 bytes: the 132 bytes after the first 16 take the long (>= 128 byte) path.
      "The fugacity of a constituent in a mixture of gases at a given temperature is proportional to its mole fraction.  Lewis-Randall RuleAAAAAAAAAAAAAAAA",
      10805939018293574989n,
      14320160249354795919n,
    ],
  ])("matches go-farm's Fingerprint128 of %p", (input, low, high) => {
    expect(cityHash128(encode(input))).toEqual({ low, high });
  });

  // From the farmhashccTest self-test table of google/farmhash src/farmhash.cc: the four
  // 32-bit words of farmhashcc::Fingerprint128(data + offset, len) as that table prints them.
  const farmhashccVectors: [offset: number, len: number, words: number[]][] = [
    [0, 0, [1039179260, 1690343979, 1018511555, 2464489001]],
    [1, 1, [3285042206, 502478099, 739479538, 1500332790]],
    [9, 3, [563346294, 550236731, 2339016688, 1826259714]],
    [64, 8, [649488537, 1624045597, 1441938215, 3147758996]],
    [256, 16, [2886047255, 4119881331, 2496990525, 3442502055]],
    [289, 17, [2755089808, 3098442882, 378524719, 2664097023]],
    [1024, 32, [2592883487, 1343156334, 3628619802, 1477143570]],
    [16384, 128, [2915380701, 3077533278, 1252871826, 1519790952]],
    [16641, 129, [216019153, 1533010676, 2259986336, 2014061617]],
    [20736, 144, [1217439806, 3828726923, 3636576271, 3467643156]],
    [21025, 145, [2342583762, 4291342905, 4094931814, 3254771759]],
    [25600, 160, [3713203220, 3369939267, 466047109, 384042536]],
    [40000, 200, [2215004781, 3482411840, 4227160614, 2030964411]],
    [62500, 250, [3654086429, 1273260424, 1591610446, 943349350]],
    [88804, 298, [2524878605, 4184292650, 3563398268, 4288943552]],
    [0, 299, [530216712, 2978986531, 863452221, 1910162118]],
    [0, 341, [2045287082, 887805614, 2889167251, 4120352181]],
    [0, 579, [4181346685, 1134030380, 403769171, 2193351164]],
    [0, 1 << 20, [1824562784, 1879401449, 3515818786, 513165201]],
  ];

  test("matches farmhash's farmhashcc self-test for short and long inputs", () => {
    const data = farmhashTestData(1 << 20);
    for (const [offset, len, words] of farmhashccVectors) {
      const got = cityHash128(data.subarray(offset, offset + len));
      expect({ offset, len, ...got }).toEqual({ offset, len, ...fromWords(words) });
    }
  });
});
