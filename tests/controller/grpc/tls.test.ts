import { expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureGrpcTls, grpcNeedsTls } from "../../../controller/src/grpc/tls.ts";
import { startController } from "../../../controller/src/controller.ts";
import { loadConfig } from "../../../shared/src/config.ts";
import { tempDir } from "../../helpers/temp-dir.ts";

test("TLS whenever the agents' port is beyond loopback; on loopback only when asked", () => {
  expect(grpcNeedsTls("127.0.0.1", "auto")).toBe(false);
  expect(grpcNeedsTls("0.0.0.0", "auto")).toBe(true);
  expect(grpcNeedsTls("10.1.2.3", "auto")).toBe(true);
  expect(grpcNeedsTls("127.0.0.1", "on")).toBe(true);
  expect(grpcNeedsTls("127.0.0.1", "off")).toBe(false);
});

test("the controller's CA signs a server certificate for its names; the CA stays, the certificate follows the names", () => {
  const home = tempDir("tls");
  const first = ensureGrpcTls(home, []);
  const ca = new X509Certificate(readFileSync(first.caFile));
  const cert = new X509Certificate(first.cert);
  expect(ca.ca).toBe(true);
  expect(cert.ca).toBe(false);
  expect(cert.verify(ca.publicKey)).toBe(true);
  expect(cert.checkHost("localhost")).toBe("localhost");
  expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
  expect(cert.checkHost("controller.example.org")).toBeUndefined();
  // the private keys are readable by their owner only
  for (const key of ["ca-key.pem", "grpc-key.pem"]) expect(statSync(join(home, "keys", key)).mode & 0o777).toBe(0o600);

  // the same names: nothing changes; another name: a new certificate from the same CA
  expect(ensureGrpcTls(home, []).cert).toBe(first.cert);
  const second = ensureGrpcTls(home, ["controller.example.org"]);
  expect(second.cert).not.toBe(first.cert);
  expect(new X509Certificate(second.cert).checkHost("controller.example.org")).toBe("controller.example.org");
  expect(new X509Certificate(second.cert).verify(ca.publicKey)).toBe(true);
  expect(readFileSync(second.caFile, "utf8")).toBe(readFileSync(first.caFile, "utf8"));
});

test("a controller refuses to serve agents beyond loopback in clear text", async () => {
  const home = tempDir("tls-off");
  const config = loadConfig({ DROVER_GRPC_HOST: "0.0.0.0", DROVER_GRPC_TLS: "off" }, home);
  await expect(startController({ config })).rejects.toThrow(/grpc.tls is "off": agent tokens would cross the network in clear text/);
});

test("grpc.tls takes auto, on or off; grpc.tlsNames host names and addresses", () => {
  const home = tempDir("tls-config");
  expect(loadConfig({}, home).grpc).toMatchObject({ tls: "auto", tlsNames: [] });
  expect(loadConfig({ DROVER_GRPC_TLS_NAMES: "ctl.example.org, 10.0.0.5" }, home).grpc.tlsNames).toEqual(["ctl.example.org", "10.0.0.5"]);
  expect(() => loadConfig({ DROVER_GRPC_TLS: "yes" }, home)).toThrow(/grpc.tls/);
  expect(() => loadConfig({ DROVER_GRPC_TLS_NAMES: "a b" }, home)).toThrow(/grpc.tlsNames/);
});
