import { expect, test } from "bun:test";
import { loadConfig } from "../../../shared/src/config.ts";
import { ADAPTIVE_BACKLOG_MAX, backlogFactor } from "../../../controller/src/scheduler/backlog.ts";
import { RateMeter } from "../../../controller/src/nodes/rate-meter.ts";

const scheduler = (env: Record<string, string> = {}) => loadConfig(env, "/nonexistent").scheduler;

test("a node whose jobs end slowly gets the configured backlog", () => {
  expect(backlogFactor(scheduler(), 8, 0)).toBe(4);
  expect(backlogFactor(scheduler(), 8, 10)).toBe(4);
});

test("a node whose jobs end quickly may hold what it starts in an eighth of the backlog wait, up to the maximum", () => {
  // 2 s wait → 250 ms; 400 ends/s → 100 jobs; over 2 processors → 50 times
  expect(backlogFactor(scheduler(), 2, 400)).toBe(50);
  expect(backlogFactor(scheduler(), 2, 100_000)).toBe(ADAPTIVE_BACKLOG_MAX);
  expect(backlogFactor(scheduler({ DROVER_BACKLOG_WAIT: "8s" }), 2, 400)).toBe(ADAPTIVE_BACKLOG_MAX);
});

test("no backlog stays no backlog, however fast jobs end", () => {
  expect(backlogFactor(scheduler({ DROVER_NODE_BACKLOG: "0" }), 2, 10_000)).toBe(0);
});

test("the rate meter counts events per second over its window and forgets older ones", () => {
  let t = 0;
  const meter = new RateMeter(250, 8, () => t);
  expect(meter.perSecond()).toBe(0);
  for (let i = 0; i < 8; i++) {
    meter.add(50);
    t += 250;
  }
  // 50 events every 250 ms: 200 per second
  expect(Math.round(meter.perSecond())).toBe(200);
  t += 1000;
  expect(meter.perSecond()).toBeLessThan(150);
  expect(meter.perSecond()).toBeGreaterThan(0);
  t += 5000;
  expect(meter.perSecond()).toBe(0);
});

test("after a quiet spell the rate meter measures a burst at its own pace, not diluted by the quiet", () => {
  let t = 0;
  const meter = new RateMeter(250, 8, () => t);
  meter.add(10);
  t += 10_000; // quiet
  meter.add(50);
  t += 100;
  // 50 events in the first 100 ms of a bucket: counted over one bucket's time (250 ms) at least
  expect(Math.round(meter.perSecond())).toBe(200);
  t += 150;
  meter.add(50);
  t += 250;
  // 100 events over the 500 ms since the burst began
  expect(Math.round(meter.perSecond())).toBe(200);
});
