import { expect, test } from "bun:test";
import { listEnvelope, parseListParams } from "../../../../controller/src/api/conventions/listing.ts";
import { DroverError } from "../../../../shared/src/errors.ts";

// The services of MWS 3.12.1.1's query examples, reduced to the queried fields.
const services = [
  { id: "bobService.1", name: "b", user: "bob", type: "vm", parent: null, dateCreated: "2012-02-08 12:30:00 MST", attributes: { moab: { job: { resources: { procs: 3, mem: 2048 } } } } },
  { id: "bobService.2", name: "a", user: "bob", type: "storage", parent: "bobService.1", dateCreated: "2012-02-08 14:00:00 MST", attributes: { moab: { job: { resources: { procs: 1, mem: 512 } } } } },
  { id: "alice.1", name: "c", user: "alice", type: "vm", dateCreated: "2012-02-08 10:00:00 EST", attributes: { moab: { job: { resources: { procs: 1, mem: 1024 } } } } },
  { id: "dave.1", name: "d", user: "dave", type: "vm", parent: null, tags: ["x", "y"], attributes: { moab: { job: { resources: { procs: 8, mem: 4096 } } } } },
];

const ids = (query: Record<string, string>) =>
  listEnvelope(services, parseListParams(query)).results.map((r) => (r as { id: string }).id);

test("a simple query matches equal fields, with unquoted keys accepted as MWS shows", () => {
  expect(ids({ query: '{"user":"bob"}' })).toEqual(["bobService.1", "bobService.2"]);
  expect(ids({ query: '{user:"bob"}' })).toEqual(["bobService.1", "bobService.2"]);
  expect(ids({ query: '{"user":"bob","type":"vm"}' })).toEqual(["bobService.1"]);
});

test("$ne and $in select by exclusion and by set", () => {
  expect(ids({ query: '{"user":{"$ne":"bob"}}' })).toEqual(["alice.1", "dave.1"]);
  expect(ids({ query: '{"user":{"$in":["alice","bob","charlie"]}}' })).toEqual(["bobService.1", "bobService.2", "alice.1"]);
});

test("dotted paths and $lt $lte $gt $gte compare embedded numbers", () => {
  expect(ids({ query: '{"attributes.moab.job.resources.procs":3}' })).toEqual(["bobService.1"]);
  expect(ids({ query: '{"attributes.moab.job.resources.procs":{"$lt":2}}' })).toEqual(["bobService.2", "alice.1"]);
  expect(ids({ query: '{"attributes.moab.job.resources.mem":{"$gte":1024}}' })).toEqual(["bobService.1", "alice.1", "dave.1"]);
  expect(ids({ query: '{"attributes.moab.job.resources.mem":{"$gt":1024,"$lte":2048}}' })).toEqual(["bobService.1"]);
});

test("dates in MWS form compare by time across time zones", () => {
  // 12:00 EST is 10:00 MST; 13:00 EST is 11:00 MST.
  expect(ids({ query: '{"dateCreated":{"$gt":"2012-02-08 13:00:00 MST"}}' })).toEqual(["bobService.2"]);
  expect(ids({ query: '{"dateCreated":{"$lte":"2012-02-08 13:00:00 EST","$gte":"2012-02-08 10:00:00 EST"}}' })).toEqual(["alice.1"]);
});

test("$type 10 matches null and missing fields (top-level services)", () => {
  expect(ids({ query: '{"user":"bob","parent":{"$type":10}}' })).toEqual(["bobService.1"]);
  expect(ids({ query: '{"parent":{"$type":10}}' })).toEqual(["bobService.1", "alice.1", "dave.1"]);
  expect(ids({ query: '{"user":"bob","parent":"bobService.1"}' })).toEqual(["bobService.2"]);
});

test("a literal matches any element of a list field", () => {
  expect(ids({ query: '{"tags":"y"}' })).toEqual(["dave.1"]);
});

test("sort orders ascending and descending, on nested fields, and combines with max and offset", () => {
  expect(ids({ sort: '{"name":1}' })).toEqual(["bobService.2", "bobService.1", "alice.1", "dave.1"]);
  expect(ids({ sort: '{"attributes.moab.job.resources.procs":-1}' })).toEqual(["dave.1", "bobService.1", "bobService.2", "alice.1"]);
  expect(ids({ query: '{"user":"bob"}', sort: '{"name":1}', max: "1", offset: "1" })).toEqual(["bobService.1"]);
});

test("totalCount counts every record while resultCount counts what the query returned", () => {
  const env = listEnvelope(services, parseListParams({ query: '{"user":"bob"}' }));
  expect(env.totalCount).toBe(4);
  expect(env.resultCount).toBe(2);
});

test("malformed queries, unknown operators and bad sort directions are 400s that say what is wrong", () => {
  const kind = (q: Record<string, string>) => {
    try {
      parseListParams(q);
      return "accepted";
    } catch (e) {
      return e instanceof DroverError ? `${e.status} ${e.message}` : "crash";
    }
  };
  expect(kind({ query: "{user:" })).toMatch(/^400 The query parameter is not valid JSON/);
  expect(kind({ query: "[1]" })).toMatch(/^400 The query parameter must be a JSON object/);
  expect(kind({ query: '{"a":{"$regex":"x"}}' })).toMatch(/^400 Unsupported query operator \$regex/);
  expect(kind({ query: '{"a":{"$in":"x"}}' })).toMatch(/^400 \$in in query takes a list/);
  expect(kind({ sort: '{"a":2}' })).toMatch(/^400 Sort direction for "a"/);
});
