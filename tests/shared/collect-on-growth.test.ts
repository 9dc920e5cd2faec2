import { afterEach, expect, test } from "bun:test";
import { collectOnGrowth } from "@drover/shared/collect-on-growth";

// The process's RSS and Bun's collector are replaced here: what is under test is when a
// collection is asked for, which the real RSS of a test process cannot drive reliably.
const MB = 2 ** 20;
const realRss = process.memoryUsage.rss;
const realGc = Bun.gc;
let rss = 200 * MB;
let asked: boolean[] = [];
process.memoryUsage.rss = () => rss;
Bun.gc = ((force?: boolean) => void asked.push(force ?? false)) as typeof Bun.gc;
afterEach(() => {
  process.memoryUsage.rss = realRss;
  Bun.gc = realGc;
});

test("asks for a concurrent collection when RSS grew by the threshold since the lowest seen, and not again until it grows as much more", async () => {
  const stop = collectOnGrowth({ growthBytes: 16 * MB, everyMs: 5 });
  try {
    rss = 210 * MB; // under the threshold: nothing
    await Bun.sleep(40);
    expect(asked).toEqual([]);
    rss = 217 * MB;
    await Bun.sleep(40);
    expect(asked).toEqual([false]); // once, not at every check while RSS stays there
    rss = 190 * MB; // the collection freed memory: the lowest seen is the new base
    await Bun.sleep(40);
    rss = 205 * MB;
    await Bun.sleep(40);
    expect(asked).toEqual([false]);
    rss = 207 * MB;
    await Bun.sleep(40);
    expect(asked).toEqual([false, false]);
  } finally {
    stop();
  }
  rss = 400 * MB; // stopped: no more checks
  await Bun.sleep(40);
  expect(asked).toEqual([false, false]);
});
