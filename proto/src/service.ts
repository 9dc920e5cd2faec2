// The grpc-js definition of AgentService, built from the protoc-gen-es descriptors so that
// message types are never written by hand: grpc-js only needs paths and (de)serialisers.
import type { ServiceDefinition } from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AgentMessageSchema,
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
    requestSerialize: (m: AgentMessage) => Buffer.from(toBinary(AgentMessageSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(AgentMessageSchema, b),
    responseSerialize: (m: ControllerMessage) => Buffer.from(toBinary(ControllerMessageSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(ControllerMessageSchema, b),
    originalName: "Connect",
  },
} satisfies ServiceDefinition;
