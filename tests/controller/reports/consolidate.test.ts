import { expect, test } from "bun:test";
import { consolidateValues } from "../../../controller/src/reports/consolidate.ts";

test("the consolidation table of MWS 4.1.2, verbatim", () => {
  const samples = [
    { NumberEx: 2400, StringEx: "str1", ListEx: ["elem1"], MixedEx: "str1", MixedNumberEx: "str1" },
    { NumberEx: 2410, StringEx: "str2", ListEx: ["elem2", "elem3"], MixedEx: ["elem1"], MixedNumberEx: ["elem1"] },
    { NumberEx: 2405, StringEx: "str3", ListEx: ["elem4"], MixedEx: null, MixedNumberEx: 5 },
  ];
  expect(consolidateValues(samples)).toEqual({
    NumberEx: 2405,
    StringEx: ["str1", "str2", "str3"],
    ListEx: ["elem1", "elem2", "elem3", "elem4"],
    MixedEx: ["str1", "elem1"],
    MixedNumberEx: 5,
  });
});

test("the averages of the CPU example of MWS 4.2 come out exactly, without floating-point noise", () => {
  const data = [
    { minutes1: 0.5, minutes5: 0, minutes15: 0 },
    { minutes1: 1, minutes5: 0.5, minutes15: 0.05 },
    { minutes1: 1, minutes5: 0.5, minutes15: 0.1 },
    { minutes1: 0.75, minutes5: 1, minutes15: 0.25 },
    { minutes1: 0, minutes5: 1, minutes15: 0.85 },
  ];
  expect(consolidateValues(data)).toEqual({ minutes1: 0.65, minutes5: 0.6, minutes15: 0.25 });
});

test("nulls are ignored unless every value is null; a field missing from a sample is no value", () => {
  expect(consolidateValues([{ a: null }, { a: null }])).toEqual({ a: null });
  expect(consolidateValues([{ a: null }, { a: 4 }, {}])).toEqual({ a: 4 });
  expect(consolidateValues([{ a: 1 }, { b: "x" }])).toEqual({ a: 1, b: ["x"] });
});

test("objects are consolidated recursively, and data that is not an object is consolidated too", () => {
  expect(consolidateValues([{ cpu: { c0: 10, c1: 20 } }, { cpu: { c0: 30, c1: 40 } }])).toEqual({ cpu: { c0: 20, c1: 30 } });
  expect(consolidateValues([1, 2, 3, 4])).toBe(2.5);
  expect(consolidateValues(["a", ["b", "c"], true])).toEqual(["a", "b", "c", true]);
  // an object among strings is gathered like any other value
  expect(consolidateValues(["a", { k: 1 }])).toEqual(["a", { k: 1 }]);
});
