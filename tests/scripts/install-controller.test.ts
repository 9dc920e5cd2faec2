// scripts/install-controller: the controller as a sandboxed systemd service, its secrets in a
// root-only environment file; systemd-analyze accepts its unit and the agent's.
import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/temp-dir.ts";

const scripts = join(import.meta.dir, "..", "..", "scripts");
const run = (script: string, args: string[]) => Bun.spawnSync(["bash", join(scripts, script), ...args], { stderr: "pipe", stdout: "pipe" });
const analyze = Bun.which("systemd-analyze");

/** A fake binary, a database URL file and a password file in a fresh root. */
function fixture() {
  const root = tempDir("install-controller");
  const binary = join(root, "fake-drover");
  writeFileSync(binary, "#!/bin/sh\n", { mode: 0o755 });
  writeFileSync(join(root, "db-url"), "postgres://drover:s3cret@db.example:5432/drover\n");
  writeFileSync(join(root, "admin-password"), "first-admin-password\n");
  return { root, binary };
}

test("install-controller writes the binary, a root-only environment file with the secrets, and a sandboxed unit", () => {
  const { root, binary } = fixture();
  const r = run("install-controller", ["--binary", binary, "--database-url-file", join(root, "db-url"), "--admin-password-file", join(root, "admin-password"), "--http-port", "8080", "--root", root]);
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  const env = join(root, "etc/drover/controller.env");
  expect(statSync(env).mode & 0o777).toBe(0o600);
  expect(readFileSync(env, "utf8")).toContain('DATABASE_URL="postgres://drover:s3cret@db.example:5432/drover"');
  expect(readFileSync(env, "utf8")).toContain("DROVER_HTTP_PORT=8080");
  const unit = readFileSync(join(root, "etc/systemd/system/drover-controller.service"), "utf8");
  for (const line of ["User=drover", "EnvironmentFile=/etc/drover/controller.env", "ExecStart=/usr/local/bin/drover controller", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "ReadWritePaths=/var/lib/drover", "CapabilityBoundingSet=\n"]) {
    expect(unit).toContain(line);
  }
  // the secrets are in the environment file only
  expect(unit).not.toContain("s3cret");
  expect(unit).not.toContain("first-admin-password");
});

test("install-controller refuses what cannot go into a unit or an environment file", () => {
  const { root, binary } = fixture();
  const cases: [string[], string][] = [
    [["--http-port", "70000"], "ports are numbers"],
    [["--http-port", "7071"], "must differ"],
    [["--host", "0.0.0.0\nExecStartPre=/bin/evil"], "--host must be an address"],
    [["--user", "Root Admin"], "--user must be a Unix account name"],
    [["--database-url-file", join(root, "admin-password")], "the database URL must be postgres://"],
    [["--colour", "red"], "unknown option --colour"],
  ];
  for (const [args, why] of cases) {
    const r = run("install-controller", ["--binary", binary, "--root", root, ...args]);
    expect({ args, code: r.exitCode }).toEqual({ args, code: 2 });
    expect(r.stderr.toString()).toContain(why);
  }
  writeFileSync(join(root, "bad-password"), 'quote"me\n');
  expect(run("install-controller", ["--binary", binary, "--root", root, "--admin-password-file", join(root, "bad-password")]).stderr.toString()).toContain("may not hold");
});

test.skipIf(!analyze && process.env.CI !== "true")("systemd-analyze verify accepts the controller's and the agent's units; the controller's exposure is OK", () => {
  expect(analyze).toBeTruthy();
  const { root, binary } = fixture();
  writeFileSync(join(root, "token"), "agent-token\n");
  expect(run("install-controller", ["--binary", binary, "--root", root]).exitCode).toBe(0);
  expect(run("install-agent", ["--controller", "127.0.0.1:7071", "--token-file", join(root, "token"), "--binary", binary, "--root", root]).exitCode).toBe(0);
  // (verify checks that ExecStart's program exists: the copies point into the root)
  const check = join(root, "check");
  mkdirSync(check);
  for (const [unit, program] of [["drover-controller.service", "drover"], ["drover-agent.service", "drover-agent"]] as const) {
    const text = readFileSync(join(root, "etc/systemd/system", unit), "utf8").replace(`ExecStart=/usr/local/bin/${program}`, `ExecStart=${root}/usr/local/bin/${program}`);
    writeFileSync(join(check, unit), text);
    const r = Bun.spawnSync([analyze!, "verify", join(check, unit)], { stderr: "pipe", stdout: "pipe" });
    expect({ unit, code: r.exitCode, out: r.stderr.toString() + r.stdout.toString() }).toEqual({ unit, code: 0, out: "" });
  }
  const security = Bun.spawnSync([analyze!, "security", "--offline=yes", join(check, "drover-controller.service")], { stderr: "pipe", stdout: "pipe" });
  const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(security.stdout.toString() + security.stderr.toString())?.[1]);
  expect(exposure).toBeLessThan(4);
});
