// A memory floor (compiled by scripts/bench-memory-floors.ts, not shipped): Bun with what the
// agent loads — grpc-js, protobuf-es, systeminformation and the agent's own modules — idle; with
// FLOOR_CONNECT=HOST:PORT also one open grpc-js channel to that gRPC server (one call, refused for
// want of a token: the HTTP/2 connection stays, as an agent's does). Nothing started.
//
//   floor-agent     (prints its RSS after FLOOR_SECONDS, default 30)
import { credentials, makeGenericClientConstructor, Metadata } from "@grpc/grpc-js";
import "@bufbuild/protobuf";
import "systeminformation";
import "../../agent/src/agent.ts";
import { agentServiceDefinition } from "@drover/proto/service";
import { reportRss } from "./report-rss.ts";

const address = process.env.FLOOR_CONNECT;
if (address) {
  const Client = makeGenericClientConstructor(agentServiceDefinition, "AgentService");
  const client = new Client(address, credentials.createInsecure(), { "grpc.keepalive_time_ms": 10_000, "grpc.keepalive_permit_without_calls": 1 });
  const call = client.connect(new Metadata());
  call.on("error", () => {});
  call.on("data", () => {});
}
await reportRss();
