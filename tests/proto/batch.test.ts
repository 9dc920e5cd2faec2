import { expect, test } from "bun:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AgentMessageSchema,
  batchesOf,
  ControllerMessageSchema,
  create,
  encodeAgentBatch,
  encodeControllerBatch,
  encodeControllerMessage,
} from "@drover/proto/service";

test("a batch framed from encoded agent messages decodes to those messages, in order", () => {
  const messages = [
    create(AgentMessageSchema, { seq: 7n, body: { case: "jobStarted", value: { jobId: 12n, attempt: 1, pid: 4242, stdoutPath: "/x/stdout" } } }),
    create(AgentMessageSchema, { seq: 8n, body: { case: "jobFinished", value: { jobId: 12n, attempt: 1, exitCode: 0, started: true, stdoutTail: "héllo\n" } } }),
    create(AgentMessageSchema, { seq: 9n, body: { case: "samples", value: { samples: [{ cpuTotal: 0.5, cpuPerCore: [0.25, 0.75] }] } } }),
  ];
  const decoded = fromBinary(AgentMessageSchema, encodeAgentBatch(messages.map((m) => toBinary(AgentMessageSchema, m))));
  expect(decoded.body.case).toBe("batch");
  const inner = decoded.body.case === "batch" ? decoded.body.value.messages : [];
  expect(inner.map((m) => toBinary(AgentMessageSchema, m))).toEqual(messages.map((m) => toBinary(AgentMessageSchema, m)));
  expect(inner.map((m) => m.seq)).toEqual([7n, 8n, 9n]);
});

test("a batch framed from encoded controller messages equals the batch protobuf-es encodes itself", () => {
  const messages = [
    create(ControllerMessageSchema, { body: { case: "ack", value: { seq: 9n } } }),
    create(ControllerMessageSchema, { body: { case: "run", value: { jobId: 13n, attempt: 1, argv: ["/bin/echo", "a b"], environment: { K: "v" }, cpus: 2 } } }),
  ];
  const framed = encodeControllerBatch(messages.map(encodeControllerMessage));
  const built = toBinary(ControllerMessageSchema, create(ControllerMessageSchema, { body: { case: "batch", value: { messages } } }));
  expect(framed).toEqual(built);
});

test("messages are grouped in order into batches of at most the given bytes; a larger one goes alone", () => {
  const m = (n: number) => new Uint8Array(n);
  const sizes = (batches: Uint8Array[][]) => batches.map((b) => b.map((x) => x.length));
  expect(sizes(batchesOf([m(4), m(4), m(4)], 8))).toEqual([[4, 4], [4]]);
  expect(sizes(batchesOf([m(2), m(20), m(2)], 8))).toEqual([[2], [20], [2]]);
  expect(batchesOf([], 8)).toEqual([]);
});
