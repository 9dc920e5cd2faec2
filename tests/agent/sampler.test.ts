import { expect, test } from "bun:test";
import { Sampler } from "../../agent/src/sampler.ts";

test("the total CPU use is measured since the previous sample, like each core's (busy while a loop spins)", () => {
  const sampler = new Sampler();
  const until = Date.now() + 300;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  const s = sampler.sample();
  expect(x).toBeGreaterThan(0);
  // a core of this machine was busy spinning: the total is above zero (and a fraction)
  expect(s.cpuTotal).toBeGreaterThan(0);
  expect(s.cpuTotal).toBeLessThanOrEqual(1);
});

test("network and disk traffic are rates since the previous sample, never negative", () => {
  const sampler = new Sampler();
  const s = sampler.sample(Date.now() + 1000);
  expect(s.networkBytesPerSecond).toBeGreaterThanOrEqual(0);
  expect(s.ioBytesPerSecond).toBeGreaterThanOrEqual(0);
  expect(Number.isFinite(s.networkBytesPerSecond) && Number.isFinite(s.ioBytesPerSecond)).toBe(true);
});
