import { expect, test } from "bun:test";
import { listEnvelope, parseListParams, shapeObject } from "../../../../controller/src/api/conventions/listing.ts";

// MWS 2.2, "Field Exclusion" example, verbatim.
const objects = {
  id: "1",
  listOfStrings: ["string1", "string2"],
  listOfObjects: [{ item1: "value1", item2: "value2" }],
  singleObject: { id: "obj1", field1: "value1" },
};

test("exclude-fields drops top-level fields, fields of lists of objects and of sub-objects (MWS 2.2 example)", () => {
  const params = parseListParams({ "exclude-fields": "id,listOfObjects.item2,singleObject.field1,listOfStrings" });
  expect(shapeObject(objects, params)).toEqual({
    listOfObjects: [{ item1: "value1" }],
    singleObject: { id: "obj1" },
  });
});

// MWS 2.2, "Field Selection" example for a job query: the job as stored, and the response.
const job = {
  id: "job.1",
  state: "Running",
  flags: ["RESTARTABLE"],
  requirements: [{ requiredProcessorCountMinimum: 4, requiredNodeCountMinimum: 1 }],
  schedule: { offset: 100, other: 5 },
  credentials: { user: "bob" },
};

test("fields selects within the objects of results, through lists and sub-objects (MWS 2.2 example)", () => {
  const params = parseListParams({ fields: "id,flags,requirements.requiredProcessorCountMinimum,schedule.offset" });
  expect(listEnvelope([job], params)).toEqual({
    totalCount: 1,
    resultCount: 1,
    results: [
      {
        id: "job.1",
        flags: ["RESTARTABLE"],
        requirements: [{ requiredProcessorCountMinimum: 4 }],
        schedule: { offset: 100 },
      },
    ],
  });
});

test("fields naming a missing field leaves it out instead of inventing it", () => {
  expect(shapeObject(job, parseListParams({ fields: "id,nothing.here" }))).toEqual({ id: "job.1" });
});

test("fields and exclude-fields together select and then exclude", () => {
  expect(shapeObject(job, parseListParams({ fields: "id,schedule", "exclude-fields": "schedule.other" }))).toEqual({
    id: "job.1",
    schedule: { offset: 100 },
  });
});

test("max and offset page the results while totalCount stays the number of all records", () => {
  const items = Array.from({ length: 10 }, (_, i) => ({ id: i }));
  const env = listEnvelope(items, parseListParams({ max: "3", offset: "4" }));
  expect(env.totalCount).toBe(10);
  expect(env.resultCount).toBe(3);
  expect(env.results).toEqual([{ id: 4 }, { id: 5 }, { id: 6 }]);
});

test("a max or offset that is not a whole number is a 400 with the parameter named", () => {
  expect(() => parseListParams({ max: "-1" })).toThrow(/max parameter/);
  expect(() => parseListParams({ offset: "abc" })).toThrow(/offset parameter/);
  expect(() => parseListParams({ pretty: "yes" })).toThrow(/pretty parameter/);
});
