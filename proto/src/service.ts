// The grpc-js definition of AgentService, built from the protoc-gen-es descriptors so that
// message types are never written by hand: grpc-js only needs paths and (de)serialisers.
import type { ServiceDefinition } from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  AgentBatchSchema,
  AgentMessageSchema,
  ControllerBatchSchema,
  AgentService,
  ControllerMessageSchema,
  type AgentMessage,
  type ControllerMessage,
} from "../gen/drover/agent/v1/agent_pb.ts";

export * from "../gen/drover/agent/v1/agent_pb.ts";
export { create };

const connect = AgentService.method.connect;

export const agentServiceDefinition = {
  connect: {
    path: `/${AgentService.typeName}/${connect.name}`,
    requestStream: true,
    responseStream: true,
    // an agent message may come already encoded (the agent's spool keeps its messages' bytes)
    requestSerialize: (m: AgentMessage | Uint8Array) => asBuffer(m instanceof Uint8Array ? m : toBinary(AgentMessageSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(AgentMessageSchema, b),
    responseSerialize: (m: ControllerMessage | Uint8Array) => asBuffer(m instanceof Uint8Array ? m : toBinary(ControllerMessageSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(ControllerMessageSchema, b),
    originalName: "Connect",
  },
} satisfies ServiceDefinition;

/** The same bytes as a Buffer, without copying them. */
const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * The encoding of a message whose body is a batch (field `batchField`, a message with the
 * repeated field `messagesField`) of the given messages, each already encoded: framed here so
 * that no message is encoded twice.
 */
function encodeBatch(batchField: number, messagesField: number, encoded: readonly Uint8Array[]): Uint8Array {
  const batch = new BinaryWriter();
  for (const m of encoded) batch.tag(messagesField, WireType.LengthDelimited).bytes(m);
  return new BinaryWriter().tag(batchField, WireType.LengthDelimited).bytes(batch.finish()).finish();
}

/** An AgentMessage whose body is an AgentBatch of the given encoded AgentMessages, encoded. */
export const encodeAgentBatch = (encoded: readonly Uint8Array[]) =>
  encodeBatch(AgentMessageSchema.field.batch.number, AgentBatchSchema.field.messages.number, encoded);

/** A ControllerMessage whose body is a ControllerBatch of the given encoded ControllerMessages, encoded. */
export const encodeControllerBatch = (encoded: readonly Uint8Array[]) =>
  encodeBatch(ControllerMessageSchema.field.batch.number, ControllerBatchSchema.field.messages.number, encoded);

/** The most bytes of messages either side puts in one batch (both accept up to 16 MiB in one gRPC message). */
export const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * Encoded messages in consecutive groups of at most maxBytes (a larger message goes alone),
 * each to be sent as one message: alone, or as a batch.
 */
export function batchesOf(encoded: readonly Uint8Array[], maxBytes = MAX_BATCH_BYTES): Uint8Array[][] {
  const batches: Uint8Array[][] = [];
  let batch: Uint8Array[] = [];
  let size = 0;
  for (const m of encoded) {
    if (batch.length && size + m.length > maxBytes) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(m);
    size += m.length;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/** A ControllerMessage encoded. */
export const encodeControllerMessage = (m: ControllerMessage) => toBinary(ControllerMessageSchema, m);

/** A ControllerMessage from its encoding (a message one controller hands another for its agent). */
export const decodeControllerMessage = (b: Uint8Array) => fromBinary(ControllerMessageSchema, b);
