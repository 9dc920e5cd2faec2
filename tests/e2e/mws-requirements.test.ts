// An MWS job's requirements matched against what the agents registered (partition, features,
// architecture, operating system, processors per task, free disk and swap), and its output paths
// honoured on its master node. A job no node could ever run is refused at submission; one that
// must wait says why.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";

// what this machine is, as a job would name it
const arch = ({ x64: "x86_64", arm64: "aarch64" } as Record<string, string>)[process.arch] ?? process.arch;
const osId = existsSync("/etc/os-release") ? (/^ID=(.*)$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "linux").replaceAll('"', "") : "linux";
const swapBytes = Number(/^SwapTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) * 1024;

await forEachDatabaseUrl("MWS job requirements on real nodes", (url) => {
  let c: Cluster;
  let work: string;
  beforeAll(async () => {
    // (no node backlogs: a job that must wait waits in the queue, where it says why)
    c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_BACKLOG: "0" } });
    await c.startController();
    await Promise.all([c.startAgent("node-a", { args: ["--partition", "cs", "--features", "bluray", "--cpus", "4"] }), c.startAgent("node-b", { args: ["--cpus", "2", "--gres", "licence=1,gpu=2"] })]);
    work = mkdtempSync(join(tmpdir(), "drover-mws-req-"));
  }, 90_000);
  afterAll(async () => {
    await c.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const post = async (json: Record<string, unknown>) => {
    const res = await c.api("/mws/rest/jobs", { method: "POST", json });
    return { status: res.status, body: (await res.json()) as { id?: string; messages?: string[] } };
  };
  const echoCpus = { commandFile: "/bin/sh", commandLineArguments: `-c "echo cpus=$DROVER_CPUS on $DROVER_HOSTS"` };

  test("partition, features, architecture, OS and tasks of several processors: the job runs on the node that has them", async () => {
    const res = await post({
      ...echoCpus,
      os: osId,
      requirements: [{ requiredPartition: "cs", requiredNodeFeatures: ["bluray"], requiredArchitecture: arch, requiredProcessorCountMinimum: 2, requiredProcessorsPerTask: 2, requiredDiskPerTask: 100 }],
    });
    expect(res.status).toBe(201);
    const job = await c.waitForState(res.body.id!, ["COMPLETED"]);
    expect(job.masterHost).toBe("node-a");
    expect(job.requirements[0]).toMatchObject({ requiredProcessorCountMinimum: 2, requiredProcessorsPerTask: 2, requiredPartition: "cs", requiredArchitecture: arch, allocatedPartition: "cs" });
    expect(job.os).toBe(osId);
    expect(job.effectivePartitionAccessList).toEqual(["cs"]);
    expect((await c.json(`/jobs/${res.body.id!.replace("drover.", "")}`)).stdout).toContain("cpus=4 on node-a");
    // "linux" is any node; another architecture name of the same machine counts too
    const linux = await post({ ...echoCpus, os: "linux", requirements: [{ requiredArchitecture: arch === "x86_64" ? "amd64" : arch }] });
    expect(linux.status).toBe(201);
    expect((await c.waitForState(linux.body.id!, ["COMPLETED"])).effectivePartitionAccessList).toEqual(["cs", "default"]);
  }, 60_000);

  test("what no registered node could ever give is refused at submission, saying what; nothing is stored", async () => {
    const before = ((await c.json("/rest/jobs?fields=id")) as { totalCount: number }).totalCount;
    const cases: [Record<string, unknown>, string][] = [
      [{ os: "windows" }, "no node running windows"],
      [{ requirements: [{ requiredPartition: "nowhere" }] }, "no node in partition nowhere"],
      [{ requirements: [{ requiredArchitecture: "sparc64" }] }, "no node of architecture sparc64"],
      [{ requirements: [{ requiredPartition: "cs", requiredProcessorCountMinimum: 3, requiredProcessorsPerTask: 2 }] }, "it needs 6 processors"],
      [{ requirements: [{ requiredDiskPerTask: 1_000_000_000 }] }, "of disk per processor"],
    ];
    if (swapBytes === 0) cases.push([{ requirements: [{ requiredSwapPerTask: 600 }] }, "of swap per processor and the largest node has 0 MB"]);
    for (const [extra, why] of cases) {
      const res = await post({ commandFile: "/bin/true", ...extra });
      expect({ extra, status: res.status }).toEqual({ extra, status: 400 });
      expect(res.body.messages![0]).toContain("no registered node can ever run it");
      expect(res.body.messages![0]).toContain(why);
    }
    expect(((await c.json("/rest/jobs?fields=id")) as { totalCount: number }).totalCount).toBe(before);
  }, 60_000);

  test("a job whose node is busy waits, saying why, and runs once it is free", async () => {
    const busy = await post({ commandFile: "/bin/sleep", commandLineArguments: "8", requirements: [{ requiredPartition: "cs", requiredProcessorCountMinimum: 4 }] });
    await c.waitForState(busy.body.id!, ["RUNNING"]);
    const waiting = await post({ ...echoCpus, requirements: [{ requiredPartition: "cs", requiredProcessorCountMinimum: 2, requiredProcessorsPerTask: 2 }] });
    const blocked = await c.waitForBlockReason(waiting.body.id!, "4 free processors");
    expect(blocked.blockReason.message).toContain("4 free processors");
    const done = await c.waitForState(waiting.body.id!, ["COMPLETED"], 30_000);
    expect(done.masterHost).toBe("node-a");
  }, 60_000);

  test("nodeAccessPolicy SINGLEJOB: the job waits for its node to be empty, then has it to itself", async () => {
    const sleeper = await post({ commandFile: "/bin/sleep", commandLineArguments: "4", requirements: [{ requiredPartition: "cs" }] });
    await c.waitForState(sleeper.body.id!, ["RUNNING"]);
    const alone = await post({ commandFile: "/bin/sleep", commandLineArguments: "4", requirements: [{ requiredPartition: "cs", nodeAccessPolicy: "SINGLEJOB" }] });
    expect(alone.status).toBe(201);
    await c.waitForBlockReason(alone.body.id!, "a node to itself (SINGLEJOB)");
    await c.waitForState(alone.body.id!, ["RUNNING"], 30_000);
    // a 1-processor job beside it waits, though 3 processors are free there
    const beside = await post({ ...echoCpus, requirements: [{ requiredPartition: "cs" }] });
    await c.waitForBlockReason(beside.body.id!, "do not share them");
    expect((await c.job(alone.body.id!)).requirements[0].nodeAccessPolicy).toBe("SINGLEJOB");
    const done = await c.waitForState(beside.body.id!, ["COMPLETED"], 30_000);
    expect(Date.parse(done.startDate.replace(" UTC", "Z").replace(" ", "T"))).toBeGreaterThanOrEqual(Date.parse((await c.job(alone.body.id!)).completionDate.replace(" UTC", "Z").replace(" ", "T")) - 1000);
    const bad = await post({ commandFile: "/bin/true", requirements: [{ nodeAccessPolicy: "UNIQUEUSER" }] });
    expect(bad.status).toBe(400);
    expect(bad.body.messages![0]).toContain("nodeAccessPolicy");
  }, 90_000);

  test("genericResources: held on a node like processors; GPUs are given by index in CUDA_VISIBLE_DEVICES", async () => {
    // the node shows what it offers
    expect((await c.json("/rest/nodes/node-b")).genericResources).toEqual({ licence: 1, gpu: 2 });
    const gpuJob = { commandFile: "/bin/sh", commandLineArguments: `-c "echo gpus=$CUDA_VISIBLE_DEVICES gres=$DROVER_GRES; sleep 3"`, requirements: [{ genericResources: { gpu: 1 } }] };
    const [g1, g2] = await Promise.all([post(gpuJob), post(gpuJob)]);
    const outs = [];
    for (const g of [g1, g2]) {
      const done = await c.waitForState(g.body.id!, ["COMPLETED"]);
      expect(done.masterHost).toBe("node-b");
      expect(done.requirements[0].genericResources).toEqual({ gpu: 1 });
      outs.push(((await c.json(`/jobs/${g.body.id!.replace("drover.", "")}`)) as { stdout: string }).stdout.trim());
    }
    // side by side on node-b, each with a GPU of its own
    expect(outs.sort()).toEqual(["gpus=0 gres=gpu=1", "gpus=1 gres=gpu=1"]);

    const holder = await post({ commandFile: "/bin/sleep", commandLineArguments: "6", requirements: [{ genericResources: { licence: 1 } }] });
    await c.waitForState(holder.body.id!, ["RUNNING"]);
    const second = await post({ ...echoCpus, requirements: [{ genericResources: { licence: 1 } }] });
    const waiting = await c.waitForBlockReason(second.body.id!, "licence=1 free");
    expect(waiting.blockReason.message).toContain("licence=1 free");
    const done = await c.waitForState(second.body.id!, ["COMPLETED"], 30_000);
    expect(done.masterHost).toBe("node-b");
    // more than any node offers: refused at submission
    const never = await post({ commandFile: "/bin/true", requirements: [{ genericResources: { licence: 2 } }] });
    expect(never.status).toBe(400);
    expect(never.body.messages![0]).toContain("no node has licence=2");
  }, 90_000);

  test("standardOutputFilePath and standardErrorFilePath: the output lands there, directories made; a path that cannot be written fails the job saying so", async () => {
    const out = join(work, "out", "deep", "job.out");
    const err = join(work, "err", "job.err");
    const res = await post({ commandFile: "/bin/sh", commandLineArguments: `-c "echo to-out; echo to-err >&2"`, standardOutputFilePath: out, standardErrorFilePath: err, vmUsagePolicy: "REQUIREPM" });
    expect(res.status).toBe(201);
    const job = await c.waitForState(res.body.id!, ["COMPLETED"]);
    expect(readFileSync(out, "utf8")).toBe("to-out\n");
    expect(readFileSync(err, "utf8")).toBe("to-err\n");
    expect(job).toMatchObject({ standardOutputFilePath: out, standardErrorFilePath: err, rmStandardOutputFilePath: out, vmUsagePolicy: "REQUIREPM" });
    // the tails come from those files
    expect((await c.json(`/jobs/${res.body.id!.replace("drover.", "")}`)).stdout).toContain("to-out");

    const bad = await post({ commandFile: "/bin/true", standardOutputFilePath: "/etc/passwd/not-a-directory/out" });
    const failed = await c.waitForState(bad.body.id!, ["REMOVED", "COMPLETED", "VACATED"]);
    const view = await c.json(`/jobs/${bad.body.id!.replace("drover.", "")}`);
    expect(view.state).toBe("failed");
    expect(view.reason).toContain("cannot write its output file");
    expect(failed.completionCode).not.toBe(0);

    const relative = await post({ commandFile: "/bin/true", standardErrorFilePath: "relative/err" });
    expect(relative.status).toBe(400);
    expect(relative.body.messages![0]).toContain("must be an absolute path");
  }, 60_000);
});
