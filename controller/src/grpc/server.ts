import { logVerbosity, Server, ServerCredentials, setLogVerbosity, type ServerDuplexStream } from "@grpc/grpc-js";
import { agentServiceDefinition, type AgentMessage, type ControllerMessage } from "@drover/proto/service";
import { logger } from "@drover/shared/log";
import type { Core } from "../core.ts";
import { AgentSession } from "./agent-session.ts";
import { BurstWriter } from "./burst-writer.ts";

// grpc-js writes its own errors to stderr (a port in use: "No address added…"); drover reports
// them itself, in one line, unless debugging
if (process.env.DROVER_LOG_LEVEL !== "debug") setLogVerbosity(logVerbosity.NONE);

const log = logger("grpc");

export interface GrpcServer {
  port: number;
  stop(): Promise<void>;
}

/** Serves AgentService on host:port (port 0 picks a free one), over TLS when given its certificate. */
export async function startGrpcServer(core: Core, host: string, port: number, tls?: { cert: string; key: string }): Promise<GrpcServer> {
  const server = new Server({
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
    // a second controller on the same port must fail, not share it (grpc-js asks for SO_REUSEPORT)
    "grpc.so_reuseport": 0,
  });
  const writer = new BurstWriter(core);
  server.addService(agentServiceDefinition, {
    connect: (call: ServerDuplexStream<AgentMessage, ControllerMessage | Uint8Array>) => {
      const session = new AgentSession(core, call, writer);
      session.begin().catch((e) => {
        log.error("agent session failed to start", { error: e });
        session.close("controller error");
      });
    },
  });
  const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      address,
      tls ? ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], false) : ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  log.info("agent gRPC listening", { address: `${host}:${bound}`, tls: !!tls });
  return {
    port: bound,
    stop: () =>
      new Promise<void>((resolve) => {
        core.links.closeAll("the controller is stopping");
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
