import { expect, test } from "bun:test";
import { reorder } from "../../../controller/src/jobs/queue-position.ts";

const list = [1, 2, 3, 4, 5].map((id) => ({ id }));
const ids = (l: { id: number }[]) => l.map((j) => j.id);

test("top and bottom move jobs past every other, keeping their own order", () => {
  expect(ids(reorder(list, new Set([4, 2]), "top"))).toEqual([2, 4, 1, 3, 5]);
  expect(ids(reorder(list, new Set([1, 3]), "bottom"))).toEqual([2, 4, 5, 1, 3]);
});

test("up and down move one place, past a job that is not moved itself; the ends stay", () => {
  expect(ids(reorder(list, new Set([3]), "up"))).toEqual([1, 3, 2, 4, 5]);
  expect(ids(reorder(list, new Set([1, 2]), "up"))).toEqual([1, 2, 3, 4, 5]);
  expect(ids(reorder(list, new Set([2, 3]), "up"))).toEqual([2, 3, 1, 4, 5]);
  expect(ids(reorder(list, new Set([2, 4]), "down"))).toEqual([1, 3, 2, 5, 4]);
  expect(ids(reorder(list, new Set([5]), "down"))).toEqual([1, 2, 3, 4, 5]);
});
