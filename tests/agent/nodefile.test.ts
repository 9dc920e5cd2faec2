import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { nodefileFor } from "../../agent/src/job-process.ts";
import { tempDir } from "../helpers/temp-dir.ts";

test("jobs with the same hosts share one node file, one line per processor", () => {
  const dir = join(tempDir("nodefile"), "nodefiles");
  const a = nodefileFor(["n1", "n1", "n2"], dir);
  const b = nodefileFor(["n1", "n1", "n2"], dir);
  const c = nodefileFor(["n1"], dir);
  expect(b).toBe(a);
  expect(c).not.toBe(a);
  expect(readFileSync(a, "utf8")).toBe("n1\nn1\nn2\n");
  expect(readFileSync(c, "utf8")).toBe("n1\n");
  expect(readdirSync(dir).sort()).toEqual([a, c].map((p) => p.slice(dir.length + 1)).sort());
});
