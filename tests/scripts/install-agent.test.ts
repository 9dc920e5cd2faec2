import { expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/temp-dir.ts";

const script = join(import.meta.dir, "..", "..", "scripts", "install-agent");

function run(args: string[]) {
  return Bun.spawnSync(["bash", script, ...args], { stderr: "pipe", stdout: "pipe" });
}

test("install-agent writes the binary, a private token and a systemd unit that starts the agent", () => {
  const root = tempDir("install");
  const token = join(root, "token");
  const binary = join(root, "fake-agent");
  writeFileSync(token, "drover-agent-secret\n");
  writeFileSync(binary, "#!/bin/sh\n", { mode: 0o755 });
  const ca = join(root, "ca.pem");
  writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  const r = run(["--controller", "ctl.example:7071", "--token-file", token, "--ca-file", ca, "--binary", binary, "--name", "node7", "--root", root]);
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  const unit = readFileSync(join(root, "etc/systemd/system/drover-agent.service"), "utf8");
  expect(unit).toContain(
    "ExecStart=/usr/local/bin/drover-agent --controller ctl.example:7071 --token-file /etc/drover/agent-token --data-dir /var/lib/drover-agent --ca-file /etc/drover/controller-ca.pem --name node7",
  );
  expect(unit).toContain("Restart=always");
  expect(unit).toContain("Environment=BUN_JSC_useJIT=0");
  expect(unit).toContain("Environment=BUN_JSC_numberOfGCMarkers=1");
  expect(unit).toContain("WantedBy=multi-user.target");
  expect(statSync(join(root, "etc/drover/agent-token")).mode & 0o777).toBe(0o600);
  expect(readFileSync(join(root, "etc/drover/controller-ca.pem"), "utf8")).toContain("BEGIN CERTIFICATE");
  expect(statSync(join(root, "usr/local/bin/drover-agent")).mode & 0o111).toBeGreaterThan(0);
});

test("install-agent refuses a bad controller address and names that cannot go into a unit file", () => {
  const root = tempDir("install");
  const token = join(root, "token");
  writeFileSync(token, "t");
  const bad = run(["--controller", "ctl;rm -rf /", "--token-file", token, "--root", root]);
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr.toString()).toContain("--controller must be HOST:PORT");
  const badName = run(["--controller", "127.0.0.1:7071", "--token-file", token, "--binary", "/bin/true", "--name", "x\nExecStartPre=/bin/evil", "--root", root]);
  expect(badName.exitCode).toBe(2);
  expect(badName.stderr.toString()).toContain("names, partitions and features may only hold");
});

test("install-agent wants the controller's CA unless the controller is on this machine's loopback", () => {
  const root = tempDir("install");
  const token = join(root, "token");
  writeFileSync(token, "t");
  const remote = run(["--controller", "ctl.example:7071", "--token-file", token, "--binary", "/bin/true", "--root", root]);
  expect(remote.exitCode).toBe(2);
  expect(remote.stderr.toString()).toContain("--ca-file is required");
  const notACert = run(["--controller", "ctl.example:7071", "--token-file", token, "--ca-file", token, "--binary", "/bin/true", "--root", root]);
  expect(notACert.exitCode).toBe(2);
  expect(notACert.stderr.toString()).toContain("--ca-file must name the controller's CA certificate");
  const local = run(["--controller", "127.0.0.1:7071", "--token-file", token, "--binary", "/bin/true", "--root", root]);
  expect(local.stderr.toString()).toBe("");
  expect(local.exitCode).toBe(0);
});
