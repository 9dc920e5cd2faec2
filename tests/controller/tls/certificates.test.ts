import { expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureServerTls, needsTls } from "../../../controller/src/tls/certificates.ts";
import { startController } from "../../../controller/src/controller.ts";
import { loadConfig } from "../../../shared/src/config.ts";
import { tempDir } from "../../helpers/temp-dir.ts";
import { freshPglite } from "../../helpers/databases.ts";
import { startTestController } from "../../helpers/controller.ts";

test("TLS whenever a listener is beyond loopback; on loopback only when asked", () => {
  expect(needsTls("127.0.0.1", "auto")).toBe(false);
  expect(needsTls("0.0.0.0", "auto")).toBe(true);
  expect(needsTls("10.1.2.3", "auto")).toBe(true);
  expect(needsTls("127.0.0.1", "on")).toBe(true);
  expect(needsTls("127.0.0.1", "off")).toBe(false);
});

test("the controller's CA signs a server certificate for its names; the CA stays, the certificate follows the names", () => {
  const home = tempDir("tls");
  const first = ensureServerTls(home, []);
  const ca = new X509Certificate(readFileSync(first.caFile));
  const cert = new X509Certificate(first.cert);
  expect(ca.ca).toBe(true);
  expect(cert.ca).toBe(false);
  expect(cert.verify(ca.publicKey)).toBe(true);
  expect(cert.checkHost("localhost")).toBe("localhost");
  expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
  expect(cert.checkHost("controller.example.org")).toBeUndefined();
  // the private keys are readable by their owner only
  for (const key of ["ca-key.pem", "server-key.pem"]) expect(statSync(join(home, "keys", key)).mode & 0o777).toBe(0o600);

  // the same names: nothing changes; another name: a new certificate from the same CA
  expect(ensureServerTls(home, []).cert).toBe(first.cert);
  const second = ensureServerTls(home, ["controller.example.org"]);
  expect(second.cert).not.toBe(first.cert);
  expect(new X509Certificate(second.cert).checkHost("controller.example.org")).toBe("controller.example.org");
  expect(new X509Certificate(second.cert).verify(ca.publicKey)).toBe(true);
  expect(readFileSync(second.caFile, "utf8")).toBe(readFileSync(first.caFile, "utf8"));
});

test("a controller refuses to serve tokens beyond loopback in clear text", async () => {
  const home = tempDir("tls-off");
  await expect(startController({ config: loadConfig({ DROVER_GRPC_HOST: "0.0.0.0", DROVER_GRPC_TLS: "off" }, home) })).rejects.toThrow(
    /grpc.tls is "off": agent tokens would cross the network in clear text/,
  );
  await expect(startController({ config: loadConfig({ DROVER_HTTP_HOST: "0.0.0.0", DROVER_HTTP_TLS: "off" }, home) })).rejects.toThrow(
    /http.tls is "off": tokens would cross the network in clear text/,
  );
});

test("the REST API over TLS: a client trusting the controller's CA gets in, one that does not is refused", async () => {
  const c = await startTestController(await freshPglite(), { DROVER_HTTP_TLS: "on" });
  try {
    expect(c.url).toStartWith("https://127.0.0.1:");
    const ca = readFileSync(c.caFile!, "utf8");
    const res = await fetch(`${c.url}/health`, { tls: { ca } });
    expect(res.status).toBe(200);
    await expect(fetch(`${c.url}/health`)).rejects.toThrow();
    // the agents' stream stays plain on loopback unless asked
    expect(c.grpcCaFile).toBeUndefined();
  } finally {
    await c.stop();
  }
});

test("http.tls and grpc.tls take auto, on or off; tls.names host names and addresses", () => {
  const home = tempDir("tls-config");
  const config = loadConfig({}, home);
  expect([config.http.tls, config.grpc.tls, config.tls.names]).toEqual(["auto", "auto", []]);
  expect(loadConfig({ DROVER_TLS_NAMES: "ctl.example.org, 10.0.0.5" }, home).tls.names).toEqual(["ctl.example.org", "10.0.0.5"]);
  expect(() => loadConfig({ DROVER_GRPC_TLS: "yes" }, home)).toThrow(/grpc.tls/);
  expect(() => loadConfig({ DROVER_HTTP_TLS: "1" }, home)).toThrow(/http.tls/);
  expect(() => loadConfig({ DROVER_TLS_NAMES: "a b" }, home)).toThrow(/tls.names/);
});
