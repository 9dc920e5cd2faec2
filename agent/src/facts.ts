import { mkdirSync, statfsSync } from "node:fs";
import { hostname } from "node:os";
import { startedByBun } from "./escapees.ts";

/** What a node is: the facts an agent registers with. */
export interface NodeFacts {
  hostname: string;
  addresses: string[];
  cores: number;
  memoryBytes: number;
  swapBytes: number;
  diskBytes: number;
  os: string;
  arch: string;
  gpus: { model: string; memoryBytes: number }[];
}

/**
 * Reads the node's facts with systeminformation (loaded only here: the standalone agent
 * calls this in a short-lived child, see readNodeFactsInChild). GPU discovery failing is not fatal.
 */
export async function readNodeFacts(dataDir: string): Promise<NodeFacts> {
  const { default: si } = await import("systeminformation");
  const [os, cpu, mem, nets] = await Promise.all([si.osInfo(), si.cpu(), si.mem(), si.networkInterfaces()]);
  let gpus: NodeFacts["gpus"] = [];
  try {
    const g = await si.graphics();
    gpus = g.controllers
      .filter((c) => /nvidia|amd|radeon|intel.*(arc|data center)/i.test(`${c.vendor} ${c.model}`) && (c.vram ?? 0) > 0)
      .map((c) => ({ model: c.model, memoryBytes: (c.vram ?? 0) * 1024 * 1024 }));
  } catch {
    gpus = [];
  }
  const list = Array.isArray(nets) ? nets : [nets];
  // the size of the file system its jobs' directories are in (the data directory's)
  let diskBytes = 0;
  try {
    mkdirSync(dataDir, { recursive: true });
    const fs = statfsSync(dataDir);
    diskBytes = Number(fs.blocks) * Number(fs.bsize);
  } catch {
    diskBytes = 0;
  }
  return {
    hostname: os.hostname || hostname(),
    addresses: list.filter((n) => !n.internal && n.ip4).map((n) => n.ip4),
    cores: cpu.cores,
    memoryBytes: mem.total,
    swapBytes: mem.swaptotal,
    diskBytes,
    os: `${os.distro} ${os.release}`.trim(),
    arch: os.arch,
    gpus,
  };
}

/**
 * Reads the facts in a child process of this same program (`--print-facts DIR`), so the
 * long-running agent never keeps systeminformation (tens of MB) in memory.
 */
export async function readNodeFactsInChild(dataDir: string, subcommand: string[] = []): Promise<NodeFacts> {
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
  const argv = [process.execPath, ...(compiled ? [] : [Bun.main]), ...subcommand, "--print-facts", dataDir];
  const child = startedByBun(Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore" }));
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`reading the node's facts failed: ${err.trim() || `exit code ${code}`}`);
  return JSON.parse(out) as NodeFacts;
}
