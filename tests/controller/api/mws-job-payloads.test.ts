// The full submission payloads of MWS 3.4.2.1 and 3.4.2.2, verbatim: every field is honoured or
// refused by name in one clear 400, and nothing is stored from a refused request.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabase } from "../../helpers/databases.ts";
import { startTestController, type TestController } from "../../helpers/controller.ts";
import { until } from "../../helpers/until.ts";
import { create, RegisterSchema } from "@drover/proto/service";
import { registerNode } from "../../../controller/src/nodes/register-node.ts";

const hostListPayload = {
  "account": "project name",
  "commandFile": "/tmp/myscript.sh",
  "commandLineArguments": "-x",
  "earliestStartDateRequested": "2011-09-26 16:28:20 MDT",
  "emailNotifyTypes": [
    "END"
  ],
  "emailNotifyUsers": [
    "user@example.com"
  ],
  "environmentRequested": true,
  "environmentVariables": {
    "SHELL": "/bin/bash",
    "LC_ALL": "en_US.utf8"
  },
  "flags": [
    "SUSPENDABLE",
    "BESTEFFORT"
  ],
  "group": "wheel",
  "holds": [
    "USER"
  ],
  "hosts": [
    "node2",
    "node3"
  ],
  "initialWorkingDirectory": "/tmp",
  "name": "job name",
  "os": "Ubuntu",
  "qosRequested": "highprio",
  "queue": "priority",
  "durationRequested": 3600,
  "requirements": [
    {
      "genericResources": {
        "resource1": 10,
        "resource2": 30
      },
      "nodeAccessPolicy": "SHARED",
      "requiredArchitecture": "x86_64",
      "requiredDiskPerTask": 500,
      "requiredMemoryPerTask": 1024,
      "requiredNodeFeatures": [
        "bluray"
      ],
      "requiredPartition": "cs",
      "requiredProcessorsPerTask": 3,
      "requiredSwapPerTask": 600,
      "tasksPerNode": 8
    }
  ],
  "reservationRequested": "grid.3",
  "standardErrorFilePath": "/home/jacob/err",
  "standardOutputFilePath": "/home/jacob/out",
  "submitHost": "admin-node",
  "templateList": [
    "template1",
    "template2"
  ],
  "user": "jacob",
  "userPriority": 25,
  "variables": {
    "var1": "val1",
    "var2": "val2"
  },
  "virtualContainers": [
    {
      "id": "vc1"
    }
  ],
  "vmUsagePolicy": "REQUIREPM"
};

const nodeCountPayload = {
  "account": "project name",
  "commandFile": "/tmp/myscript.sh",
  "commandLineArguments": "-x",
  "earliestStartDateRequested": "2011-09-26 16:28:20 MDT",
  "emailNotifyTypes": [
    "END"
  ],
  "emailNotifyUsers": [
    "user@example.com"
  ],
  "environmentRequested": true,
  "environmentVariables": {
    "SHELL": "/bin/bash",
    "LC_ALL": "en_US.utf8"
  },
  "flags": [
    "SUSPENDABLE",
    "BESTEFFORT"
  ],
  "group": "wheel",
  "holds": [
    "USER"
  ],
  "initialWorkingDirectory": "/tmp",
  "name": "job name",
  "os": "Ubuntu",
  "qosRequested": "highprio",
  "queue": "priority",
  "durationRequested": 3600,
  "requirements": [
    {
      "genericResources": {
        "resource1": 10,
        "resource2": 30
      },
      "nodeAccessPolicy": "SHARED",
      "requiredArchitecture": "x86_64",
      "requiredDiskPerTask": 500,
      "requiredMemoryPerTask": 1024,
      "requiredNodeFeatures": [
        "bluray"
      ],
      "requiredPartition": "cs",
      "requiredProcessorCountMinimum": 4,
      "requiredProcessorsPerTask": 3,
      "requiredSwapPerTask": 600,
      "tasksPerNode": 8
    }
  ],
  "reservationRequested": "grid.3",
  "standardErrorFilePath": "/home/jacob/err",
  "standardOutputFilePath": "/home/jacob/out",
  "submitHost": "admin-node",
  "templateList": [
    "template1",
    "template2"
  ],
  "user": "jacob",
  "userPriority": 25,
  "variables": {
    "var1": "val1",
    "var2": "val2"
  },
  "virtualContainers": [
    {
      "id": "vc1"
    }
  ],
  "vmUsagePolicy": "REQUIREPM"
};

// (virtual containers: not yet)
const refusedFields = ["virtualContainers"];

// The fields of 3.4.1.4's sample job, and of its requirement
const SAMPLE_KEYS = [
  "account", "activeDuration", "allocatedNodes", "allocatedVMs", "blockReason", "bypass", "commandFile", "commandLineArguments", "completionCode", "completionDate",
  "dedicatedProcessorSeconds", "destinationRmJobId", "earliestStartDate", "earliestStartDateRequested", "effectivePartitionAccessList", "effectiveQueueDuration",
  "emailNotifyTypes", "emailNotifyUsers", "environmentVariables", "expectedState", "flags", "genericAttributes", "group", "holds", "hosts", "id",
  "initialWorkingDirectory", "latestCompletedDateRequested", "masterHost", "memoryRequested", "messages", "name", "os", "partitionAccessList", "qos",
  "qosRequested", "queue", "queueStatus", "durationRequested", "requirements", "reservationRequested", "reservationStartDate", "rmExtension", "rmName",
  "rmStandardErrorFilePath", "rmStandardInputFilePath", "rmStandardOutputFilePath", "runPriority", "sourceRmJobId", "standardErrorFilePath",
  "standardOutputFilePath", "startCount", "startDate", "startPriority", "state", "submitDate", "submitHost", "suspendDuration", "systemPriority",
  "userPriority", "user", "variables", "virtualContainers", "vmUsagePolicy",
];
const SAMPLE_REQUIREMENT_KEYS = [
  "allocatedNodes", "allocatedPartition", "genericResources", "nodeAccessPolicy", "preferredNodeFeatures", "requiredArchitecture", "requiredClass",
  "requiredDiskPerTask", "requiredMemoryPerTask", "requiredNetwork", "requiredNodeCountMinimum", "requiredNodeDisk", "requiredNodeFeatures",
  "requiredNodeMemory", "requiredNodeProcessors", "requiredNodeSwap", "requiredPartition", "requiredProcessorCountMinimum", "requiredProcessorsPerTask",
  "requiredSwapPerTask", "tasksPerNode",
];

/** The payload without what drover refuses. */
function honoured(payload: Record<string, any>) {
  const out: Record<string, any> = { ...payload, requirements: [{ ...payload.requirements[0] }] };
  for (const f of refusedFields) {
    if (f.startsWith("requirements.")) delete out.requirements[0][f.slice("requirements.".length)];
    else delete out[f];
  }
  return out;
}

await forEachDatabase("the MWS submission payloads of 3.4.2", (db) => {
  let c: TestController;
  let admin: string;
  beforeAll(async () => {
    // (a mail server is configured, so that emailNotifyTypes is taken; no job starts here to be mailed about)
    c = await startTestController(db(), { DROVER_SMTP_URL: "smtp://127.0.0.1:9" }, {
      // the queue and QoS the payloads name
      beforeStart: (home) => {
        mkdirSync(join(home, "etc"), { recursive: true });
        writeFileSync(join(home, "etc", "queues.yaml"), "queues:\n  priority:\n    priority: 5\nqos:\n  highprio:\n    priority: 20\n");
      },
    });
    admin = await c.adminToken();
    await c.userToken("jacob");
    // the nodes the payloads name and ask for (registered as their agents would: Ubuntu, x86_64,
    // partition cs, feature bluray, the generic resources; never connected, so nothing starts)
    for (const name of ["node2", "node3"]) {
      await registerNode(db().db, create(RegisterSchema, {
        nodeName: name, hostname: name, cores: 24, memoryBytes: 64n << 30n, swapBytes: 16n << 30n, diskBytes: 1n << 40n, os: "Ubuntu 24.04", arch: "x86_64",
        partition: "cs", features: ["bluray"], gres: { resource1: 10, resource2: 30 },
      }), "t");
    }
    // the reservation they ask for, grid.3 (grid.1 and grid.2 came and went before it)
    for (const n of [1, 2, 3]) {
      const res = await c.request("/mws/rest/reservations", { method: "POST", token: admin, json: { idPrefix: "grid", hostListExpression: "node[2-3]", duration: 7200, aclRules: [{ type: "USER", value: "jacob" }] } });
      expect(((await res.json()) as { id: string }).id).toBe(`grid.${n}`);
      if (n < 3) expect((await c.request(`/mws/rest/reservations/grid.${n}`, { method: "DELETE", token: admin })).status).toBe(200);
    }
    for (const id of ["template1", "template2"]) {
      const res = await c.request("/rest/job-templates", { method: "POST", token: admin, json: { id, description: `${id} of the sample` } });
      expect(res.status).toBe(201);
    }
  });
  afterAll(() => c.stop());

  const submit = async (json: unknown) => {
    const res = await c.request("/mws/rest/jobs", { method: "POST", token: admin, json });
    return { status: res.status, body: (await res.json()) as any };
  };
  const jobCount = async () => ((await (await c.request("/rest/jobs?fields=id", { token: admin })).json()) as any).totalCount;

  test("the full payloads are refused, naming every field drover cannot honour; nothing is stored", async () => {
    for (const payload of [hostListPayload, nodeCountPayload]) {
      const res = await submit(payload);
      expect(res.status).toBe(400);
      const message: string = res.body.messages[0];
      for (const f of refusedFields) expect(message).toContain(f);
      // honoured fields are not named
      for (const f of ["reservationRequested", "commandFile", "hosts", "holds", "variables", "submitHost", "nodeAccessPolicy", "templateList", "os", "standardOutputFilePath", "requiredArchitecture", "requiredPartition", "requiredSwapPerTask", "vmUsagePolicy", "environmentRequested"]) {
        expect(message).not.toMatch(new RegExp(`\\b${f}\\b`));
      }
    }
    expect(await jobCount()).toBe(0);
  });

  test("the host-list payload without them is stored with every honoured field", async () => {
    const res = await submit(honoured(hostListPayload));
    expect(res.body).toEqual({ id: expect.any(String) });
    const job = ((await (await c.request(`/rest/jobs/${res.body.id}`, { token: admin })).json()) as any);
    expect(job).toMatchObject({
      user: "jacob",
      group: "wheel",
      name: "job name",
      commandFile: "/tmp/myscript.sh",
      commandLineArguments: "-x",
      earliestStartDateRequested: "2011-09-26 22:28:20 UTC",
      environmentVariables: { SHELL: "/bin/bash", LC_ALL: "en_US.utf8" },
      flags: ["SUSPENDABLE", "BESTEFFORT"],
      holds: ["USER"],
      hosts: ["node2", "node3"],
      initialWorkingDirectory: "/tmp",
      durationRequested: 3600,
      userPriority: 25,
      variables: { var1: "val1", var2: "val2" },
      submitHost: "admin-node",
      templateList: ["template1", "template2"],
      state: "HOLD",
      os: "Ubuntu",
      vmUsagePolicy: "REQUIREPM",
      standardOutputFilePath: "/home/jacob/out",
      standardErrorFilePath: "/home/jacob/err",
      emailNotifyTypes: ["END"],
      emailNotifyUsers: ["user@example.com"],
      account: "project name",
      queue: "priority",
      qos: "highprio",
      qosRequested: "highprio",
      startPriority: 50,
      partitionAccessList: ["cs"],
      rmName: "drover",
      reservationRequested: "grid.3",
    });
    expect(job.reservationStartDate).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    // released from its hold, it waits for its reservation's nodes (whose agents never connect here), saying so
    expect((await c.request(`/mws/rest/jobs/${res.body.id}/unhold`, { method: "PUT", token: admin, json: { holds: ["USER"] } })).status).toBeLessThan(300);
    await until(async () => {
      const j = (await (await c.request(`/rest/jobs/${res.body.id}`, { token: admin })).json()) as any;
      if (j.state === "IDLE" && j.blockReason?.message?.includes("waiting for room in reservation grid.3")) return j;
      throw new Error(`${j.state}: ${j.blockReason?.message}`);
    }, 20_000, "the job to wait for its reservation");
    // two hosts, 8 tasks each, of 3 processors: 48 processors
    expect(job.requirements[0]).toMatchObject({
      requiredProcessorCountMinimum: 16, requiredProcessorsPerTask: 3, requiredMemoryPerTask: 1024, requiredDiskPerTask: 500, requiredSwapPerTask: 600,
      requiredNodeFeatures: ["bluray"], tasksPerNode: 8, requiredArchitecture: "x86_64", requiredPartition: "cs", requiredNodeCountMinimum: 2,
      genericResources: { resource1: 10, resource2: 30 },
    });
    expect(job.dedicatedProcessorSeconds).toBe(0);
  });

  test("the node-count payload: 4 tasks of 3 processors, fewer than tasksPerNode, on one node; 16 tasks on two nodes", async () => {
    const few = await submit(honoured(nodeCountPayload));
    expect(few.status).toBe(201);
    const one = ((await (await c.request(`/rest/jobs/${few.body.id}`, { token: admin })).json()) as any);
    expect(one.requirements[0]).toMatchObject({ requiredProcessorCountMinimum: 4, requiredProcessorsPerTask: 3, tasksPerNode: 8, requiredNodeCountMinimum: 1 });
    const fitting = honoured(nodeCountPayload);
    fitting.requirements[0].requiredProcessorCountMinimum = 16;
    const res = await submit(fitting);
    expect(res.status).toBe(201);
    const job = ((await (await c.request(`/rest/jobs/${res.body.id}`, { token: admin })).json()) as any);
    expect(job.requirements[0]).toMatchObject({ requiredProcessorCountMinimum: 16, tasksPerNode: 8, requiredNodeCountMinimum: 2 });
    // and tasks that do not fill whole nodes are refused, saying how they are counted
    fitting.requirements[0].requiredProcessorCountMinimum = 12;
    const odd = await submit(fitting);
    expect(odd.status).toBe(400);
    expect(odd.body.messages[0]).toContain("multiple of tasksPerNode");
  });

  test("every field of 3.4.1.4's single-job sample is in GET, and a VM usage policy is refused by name", async () => {
    const res = await submit({ commandFile: "/bin/true" });
    const job = ((await (await c.request(`/rest/jobs/${res.body.id}`, { token: admin })).json()) as any);
    expect(Object.keys(job).filter((k) => !SAMPLE_KEYS.includes(k)).every((k) => ["templateList", "dependencies"].includes(k))).toBe(true);
    expect(SAMPLE_KEYS.filter((k) => !(k in job))).toEqual([]);
    expect(Object.keys(job.requirements[0]).sort()).toEqual(SAMPLE_REQUIREMENT_KEYS.sort());
    expect(job).toMatchObject({ rmName: "drover", bypass: 0, startPriority: 0, partitionAccessList: ["ALL"], allocatedVMs: [], virtualContainers: [], account: null });
    const vm = await submit({ commandFile: "/bin/true", vmUsagePolicy: "CREATEVM" });
    expect(vm.status).toBe(400);
    expect(vm.body.messages[0]).toContain("vmUsagePolicy CREATEVM");
  });

  test("field selection on jobs: fields and exclude-fields on the list and on one job", async () => {
    const get = async (path: string) => (await (await c.request(path, { token: admin })).json()) as any;
    const list = await get("/rest/jobs?fields=id,state,user");
    expect(list.results.length).toBeGreaterThan(0);
    for (const j of list.results) expect(Object.keys(j).sort()).toEqual(["id", "state", "user"]);
    const id = list.results[0].id;
    expect(await get(`/rest/jobs/${id}?fields=id,requirements.tasksPerNode`)).toEqual({ id, requirements: [{ tasksPerNode: 8 }] });
    const without = await get(`/rest/jobs/${id}?exclude-fields=messages,requirements`);
    expect(without.id).toBe(id);
    expect("messages" in without || "requirements" in without).toBe(false);
  });

  test("an array of thousands of jobs is stored whole (more than one statement's parameters); more than 10,000 is a 400", async () => {
    const before = await jobCount();
    const many = await submit(Array.from({ length: 3000 }, (_, i) => ({ commandLine: `echo ${i}`, holds: ["USER"] })));
    expect(many.body).toHaveLength(3000);
    expect(await jobCount()).toBe(before + 3000);
    // the ids answer the jobs in the order given
    const ids = (many.body as { id: string }[]).map((j) => Number(j.id.replace("drover.", "")));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    for (const i of [0, 1234, 2999]) {
      const job = (await (await c.request(`/rest/jobs/${many.body[i].id}`, { token: admin })).json()) as any;
      expect(job.commandLineArguments ?? job.commandFile).toContain(String(i));
    }
    const tooMany = await submit(Array.from({ length: 10_001 }, () => ({ commandLine: "true" })));
    expect(tooMany.status).toBe(400);
    expect(await jobCount()).toBe(before + 3000);
  }, 60_000);
});
