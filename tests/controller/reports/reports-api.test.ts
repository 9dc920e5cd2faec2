// The reporting framework of MWS 3.10 and 4, through the REST API, with a clock the tests move.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create, RegisterSchema, SampleSchema } from "@drover/proto/service";
import { ManualClock, setClock } from "../../../shared/src/clock.ts";
import { formatMwsDate, parseMwsDate } from "../../../controller/src/api/conventions/dates.ts";
import { consolidateDueReports } from "../../../controller/src/reports/consolidator.ts";
import { ensureNodeReports, sampleCluster } from "../../../controller/src/reports/node-reports.ts";
import { registerNode } from "../../../controller/src/nodes/register-node.ts";
import { recordSamplesOfNodes } from "../../../controller/src/nodes/node-samples.ts";
import { forEachDatabase } from "../../helpers/databases.ts";
import { ADMIN_PASSWORD, startTestController, type TestController } from "../../helpers/controller.ts";

const mst = (hhmm: string, day = "2012-01-01") => parseMwsDate(`${day} ${hhmm}:00 MST`)!;
const dateOf = (text: string | null) => (text === null ? null : parseMwsDate(text)!);

interface DatapointView {
  startDate: string;
  endDate: string;
  firstSampleDate: string | null;
  lastSampleDate: string | null;
  data: unknown;
}

await forEachDatabase("reports", (database) => {
  let t: TestController;
  const clock = new ManualClock(mst("11:00"));
  let restoreClock: () => void;
  let admin = "";

  beforeAll(async () => {
    restoreClock = setClock(clock.read);
    // the tests consolidate by hand; no background consolidation races them
    t = await startTestController(database(), { DROVER_REPORTS_POLL: "0" });
  });
  afterAll(async () => {
    await t?.stop();
    restoreClock();
  });

  /** moves the clock to an absolute time and returns a token valid then */
  const at = async (ms: number) => {
    if (ms < clock.ms) throw new Error("the test clock only moves forward");
    clock.set(ms);
    admin = await t.tokenFor("admin", ADMIN_PASSWORD);
    return admin;
  };
  const call = async (method: string, path: string, json?: unknown, token = admin) => {
    const res = await t.request(path, { method, token, json });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  const datapoints = async (name: string): Promise<DatapointView[]> => (await call("GET", `/rest/reports/${name}`)).body.datapoints;

  test("the CPU-utilization example of MWS 4.2, verbatim", async () => {
    await at(mst("11:49"));
    const created = await call("POST", "/rest/reports", {
      name: "cpu-util",
      description: "An example report for cpu utilization",
      consolidationFunction: "average",
      datapointDuration: 600,
      reportSize: 288,
    });
    expect(created.status).toBe(201);
    expect(created.body.messages).toEqual(["Report cpu-util created"]);
    expect(created.body.name).toBe("cpu-util");
    expect(created.headers.get("location")).toBe(`/rest/reports/${created.body.id}`);

    const fresh = await call("GET", "/rest/reports/cpu-util");
    expect(fresh.body).toEqual({
      consolidationFunction: "average",
      datapointDuration: 600,
      datapoints: [],
      description: "An example report for cpu utilization",
      id: created.body.id,
      keepSamples: false,
      minimumSampleSize: 1,
      name: "cpu-util",
      reportSize: 288,
      version: 0,
    });

    // 11:59: the first window closes with no samples in it
    await at(mst("11:59"));
    await consolidateDueReports(t.database.db);
    await at(mst("12:05"));
    const posted = await call("POST", "/rest/reports/cpu-util/samples", [
      { agent: "cpu-monitor", timestamp: "2012-01-01 12:00:00 MST", data: { minutes1: 0.5, minutes5: 0, minutes15: 0 } },
      { agent: "cpu-monitor", timestamp: "2012-01-01 12:01:00 MST", data: { minutes1: 1, minutes5: 0.5, minutes15: 0.05 } },
      { agent: "cpu-monitor", timestamp: "2012-01-01 12:02:00 MST", data: { minutes1: 1, minutes5: 0.5, minutes15: 0.1 } },
      { agent: "cpu-monitor", timestamp: "2012-01-01 12:03:00 MST", data: { minutes1: 0.75, minutes5: 1, minutes15: 0.25 } },
      { agent: "cpu-monitor", timestamp: "2012-01-01 12:04:00 MST", data: { minutes1: 0, minutes5: 1, minutes15: 0.85 } },
    ]);
    expect(posted.status).toBe(201);
    expect(posted.body).toEqual({ messages: ["5 sample(s) created for report cpu-util"] });
    expect((await call("GET", "/rest/reports/cpu-util/samples")).body.totalCount).toBe(5);

    await at(mst("12:09"));
    await consolidateDueReports(t.database.db);
    const report = (await call("GET", "/rest/reports/cpu-util")).body;
    expect(report.version).toBe(2);
    expect(report.datapoints.map((d: DatapointView) => ({ ...d, startDate: dateOf(d.startDate), endDate: dateOf(d.endDate), firstSampleDate: dateOf(d.firstSampleDate), lastSampleDate: dateOf(d.lastSampleDate) }))).toEqual([
      { firstSampleDate: null, lastSampleDate: null, data: null, startDate: mst("11:49"), endDate: mst("11:59") },
      {
        firstSampleDate: mst("12:00"),
        lastSampleDate: mst("12:04"),
        data: { minutes1: 0.65, minutes15: 0.25, minutes5: 0.6 },
        startDate: mst("11:59"),
        endDate: mst("12:09"),
      },
    ]);
    // dates render the MWS way (in UTC)
    expect(report.datapoints[1].startDate).toBe("2012-01-01 18:59:00 UTC");
    // keepSamples is false: the consumed samples are gone
    expect((await call("GET", "/rest/reports/cpu-util/samples")).body).toEqual({ totalCount: 0, resultCount: 0, results: [] });
    // the datapoints call is the same list in an envelope, and nothing is consolidated twice
    await consolidateDueReports(t.database.db);
    const listed = (await call("GET", "/rest/reports/cpu-util/datapoints")).body;
    expect(listed.totalCount).toBe(2);
    expect(listed.results).toEqual(report.datapoints);
  });

  test("the consolidation table of MWS 4.1.2, through samples and a datapoint", async () => {
    await at(mst("15:53:00".slice(0, 5)));
    await call("POST", "/rest/reports", { name: "table", datapointDuration: 60, reportSize: 5 });
    const s = (time: string, data: unknown) => ({ timestamp: `2012-01-01 ${time} MST`, data });
    await call("POST", "/rest/reports/table/samples", s("15:53:05", { NumberEx: 2400, StringEx: "str1", ListEx: ["elem1"], MixedEx: "str1", MixedNumberEx: "str1" }));
    await call("POST", "/rest/reports/table/samples", s("15:53:13", { NumberEx: 2410, StringEx: "str2", ListEx: ["elem2", "elem3"], MixedEx: ["elem1"], MixedNumberEx: ["elem1"] }));
    await call("POST", "/rest/reports/table/samples", s("15:53:27", { NumberEx: 2405, StringEx: "str3", ListEx: ["elem4"], MixedEx: null, MixedNumberEx: 5 }));
    await at(mst("15:54"));
    await consolidateDueReports(t.database.db);
    const [point] = await datapoints("table");
    expect(point!.data).toEqual({
      NumberEx: 2405,
      StringEx: ["str1", "str2", "str3"],
      ListEx: ["elem1", "elem2", "elem3", "elem4"],
      MixedEx: ["str1", "elem1"],
      MixedNumberEx: 5,
    });
  });

  test("minimumSampleSize not met: the datapoint's data is null and the samples are discarded", async () => {
    await at(mst("17:00"));
    await call("POST", "/rest/reports", { name: "sparse", datapointDuration: 60, reportSize: 10, minimumSampleSize: 3, keepSamples: true });
    await call("POST", "/rest/reports/sparse/samples", [{ data: { v: 1 } }, { data: { v: 2 } }]);
    await at(mst("17:01"));
    await consolidateDueReports(t.database.db);
    const [point] = await datapoints("sparse");
    expect(point).toMatchObject({ data: null, firstSampleDate: null, lastSampleDate: null });
    expect((await call("GET", "/rest/reports/sparse/samples")).body.totalCount).toBe(0);
    // enough samples in the next window: kept, as keepSamples asks
    await call("POST", "/rest/reports/sparse/samples", [{ data: { v: 1 } }, { data: { v: 2 } }, { data: { v: 6 } }]);
    await at(mst("17:02"));
    await consolidateDueReports(t.database.db);
    expect((await datapoints("sparse"))[1]!.data).toEqual({ v: 3 });
    expect((await call("GET", "/rest/reports/sparse/samples")).body.totalCount).toBe(3);
  });

  test("reportSize keeps only the newest datapoints; missed windows are caught up once, oldest first", async () => {
    await at(mst("18:00"));
    await call("POST", "/rest/reports", { name: "ring", datapointDuration: 60, reportSize: 3 });
    for (let minute = 0; minute < 5; minute++) {
      await call("POST", "/rest/reports/ring/samples", { data: { minute } });
      await at(mst(`18:0${minute + 1}`));
      await consolidateDueReports(t.database.db);
    }
    let points = await datapoints("ring");
    expect(points.map((p) => p.data)).toEqual([{ minute: 2 }, { minute: 3 }, { minute: 4 }]);

    // ten minutes pass without a consolidation (no controller ran): only the newest three windows
    // are written, the sample posted before the gap lands in its own window, nothing twice
    await call("POST", "/rest/reports/ring/samples", { data: { minute: 5 } });
    await at(mst("18:15"));
    await Promise.all([consolidateDueReports(t.database.db), consolidateDueReports(t.database.db)]);
    points = await datapoints("ring");
    expect(points.map((p) => dateOf(p.endDate))).toEqual([mst("18:13"), mst("18:14"), mst("18:15")]);
    expect(points.every((p) => p.data === null)).toBe(true);
    const report = (await call("GET", "/rest/reports/ring")).body;
    // version counts the windows consolidated: five, then the three newest of the ten missed
    expect(report.version).toBe(8);
  });

  test("a controller restart in the middle of a window neither loses nor doubles a datapoint", async () => {
    await at(mst("19:00"));
    await call("POST", "/rest/reports", { name: "restart", datapointDuration: 600, reportSize: 10 });
    await call("POST", "/rest/reports/restart/samples", { timestamp: "2012-01-01 19:02:00 MST", data: { v: 10 } });
    await t.stop();
    t = await startTestController(database(), { DROVER_REPORTS_POLL: "0" });
    await at(mst("19:05"));
    await call("POST", "/rest/reports/restart/samples", { timestamp: "2012-01-01 19:06:00 MST", data: { v: 20 } });
    // the window ends while this controller is down too; the next one catches up
    await t.stop();
    clock.set(mst("19:12"));
    t = await startTestController(database(), { DROVER_REPORTS_POLL: "0" });
    await at(mst("19:12"));
    await consolidateDueReports(t.database.db);
    await consolidateDueReports(t.database.db);
    const points = await datapoints("restart");
    expect(points).toHaveLength(1);
    expect(points[0]!.data).toEqual({ v: 15 });
    expect(dateOf(points[0]!.firstSampleDate)).toBe(mst("19:02"));
    expect(dateOf(points[0]!.lastSampleDate)).toBe(mst("19:06"));
  });

  test("historical datapoints at creation: kept, trimmed to reportSize, next consolidation after the newest", async () => {
    await at(mst("20:00"));
    const res = await call("POST", "/rest/reports", {
      name: "history",
      datapointDuration: 15,
      reportSize: 2,
      keepSamples: true,
      datapoints: [
        { startDate: "2012-01-01 19:59:00 MST", endDate: "2012-01-01 19:59:15 MST", data: { util: 1 } },
        { startDate: "2012-01-01 19:59:15 MST", endDate: "2012-01-01 19:59:30 MST", data: { util: 2 } },
        { startDate: "2012-01-02T02:59:30Z", endDate: "2012-01-02T02:59:45Z", data: { util: 3 }, firstSampleDate: null, lastSampleDate: null },
      ],
    });
    expect(res.status).toBe(201);
    let points = await datapoints("history");
    expect(points.map((p) => p.data)).toEqual([{ util: 2 }, { util: 3 }]);
    // the newest ended at 19:59:45; 19:59:45 + 15 s is not ahead of the creation time (20:00:00),
    // so the next window is the first one from 19:59:45 still ahead: 20:00:00–20:00:15
    await call("POST", "/rest/reports/history/samples", { data: { util: 9 } });
    await at(mst("20:00") + 15_000);
    await consolidateDueReports(t.database.db);
    points = await datapoints("history");
    expect(points.map((p) => [dateOf(p.startDate), dateOf(p.endDate), p.data])).toEqual([
      [mst("19:59") + 30_000, mst("19:59") + 45_000, { util: 3 }],
      [mst("20:00"), mst("20:00") + 15_000, { util: 9 }],
    ]);
  });

  test("by id and by name, under /rest and /mws/rest; delete", async () => {
    await at(mst("21:00"));
    const { body } = await call("POST", "/mws/rest/reports", { name: "both-ways", datapointDuration: 60, reportSize: 2 });
    const id = body.id as string;
    expect((await call("GET", `/rest/reports/${id}`)).body.name).toBe("both-ways");
    expect((await call("GET", `/mws/rest/reports/both-ways`)).body.id).toBe(id);
    expect((await call("POST", `/rest/reports/${id}/samples`, { data: { x: 1 } })).status).toBe(201);
    expect((await call("GET", `/mws/rest/reports/both-ways/samples`)).body.results).toEqual([
      { timestamp: "2012-01-02 04:00:00 UTC", agent: null, data: { x: 1 } },
    ]);
    expect((await call("GET", `/rest/reports/${id}/datapoints`)).body).toEqual({ totalCount: 0, resultCount: 0, results: [] });
    const list = (await call("GET", "/rest/reports?fields=id,name")).body;
    expect(list.results).toContainEqual({ id, name: "both-ways" });
    expect(list.results.every((r: object) => !("datapoints" in r))).toBe(true);
    const deleted = await call("DELETE", `/rest/reports/${id}`);
    expect(deleted).toMatchObject({ status: 200, body: { messages: ["Report both-ways deleted"] } });
    expect((await call("GET", "/rest/reports/both-ways")).status).toBe(404);
    expect((await call("GET", `/rest/reports/${id}/samples`)).status).toBe(404);
  });

  test("datapoints filtered by time range with from and to", async () => {
    await at(mst("22:00"));
    await call("POST", "/rest/reports", { name: "ranged", datapointDuration: 60, reportSize: 10 });
    await at(mst("22:05"));
    await consolidateDueReports(t.database.db);
    const ends = async (q: string) => ((await call("GET", `/rest/reports/ranged/datapoints?${q}`)).body.results as DatapointView[]).map((p) => dateOf(p.endDate));
    expect(await ends("")).toHaveLength(5);
    expect(await ends(`from=${encodeURIComponent("2012-01-01 22:02:00 MST")}`)).toEqual([mst("22:03"), mst("22:04"), mst("22:05")]);
    expect(await ends(`from=${encodeURIComponent("2012-01-01 22:01:30 MST")}&to=2012-01-02T05:03:00Z`)).toEqual([mst("22:02"), mst("22:03")]);
    const shown = (await call("GET", `/rest/reports/ranged?to=${encodeURIComponent("2012-01-01 22:01:00 MST")}`)).body;
    expect(shown.datapoints).toHaveLength(1);
    const bad = await call("GET", "/rest/reports/ranged/datapoints?from=yesterday");
    expect(bad.status).toBe(400);
    expect(bad.body.messages[0]).toContain('"from"');
  });

  test("bad input is a 400 naming the field; unknown is 404; duplicates 409; wrong method 405", async () => {
    await at(mst("23:00"));
    const post = (json: unknown) => call("POST", "/rest/reports", json);
    const missing = await post({ name: "x1", reportSize: 2 });
    expect(missing.status).toBe(400);
    expect(missing.body.messages.join(" ")).toContain("datapointDuration");
    const fn = await post({ name: "x2", datapointDuration: 5, reportSize: 2, consolidationFunction: "median" });
    expect(fn.status).toBe(400);
    expect(fn.body.messages[0]).toContain("consolidationFunction");
    const unknownField = await post({ name: "x3", datapointDuration: 5, reportSize: 2, colour: "red" });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.messages.join(" ")).toContain("colour");
    const badDate = await post({ name: "x4", datapointDuration: 5, reportSize: 2, datapoints: [{ startDate: "soon", endDate: "later", data: 1 }] });
    expect(badDate.status).toBe(400);
    expect(badDate.body.messages[0]).toContain("datapoints.0.startDate");
    expect((await post({ name: "123", datapointDuration: 5, reportSize: 2 })).status).toBe(400);
    expect((await post({ name: "cluster", datapointDuration: 5, reportSize: 2 })).status).toBe(400);
    expect((await post({ name: "node-n9", datapointDuration: 5, reportSize: 2 })).status).toBe(400);
    expect((await post({ name: "x5", datapointDuration: 0, reportSize: 2 })).status).toBe(400);
    expect((await post({ name: "x6", datapointDuration: 5, reportSize: -1 })).status).toBe(400);
    expect((await post({ name: "dup", datapointDuration: 5, reportSize: 2 })).status).toBe(201);
    const dup = await post({ name: "dup", datapointDuration: 5, reportSize: 2 });
    expect(dup.status).toBe(409);
    expect(dup.body.messages[0]).toContain('"dup" already exists');

    const badSample = await call("POST", "/rest/reports/dup/samples", [{ data: 1 }, { timestamp: "noon", data: 2 }]);
    expect(badSample.status).toBe(400);
    expect(badSample.body.messages[0]).toContain("1.timestamp");
    const noData = await call("POST", "/rest/reports/dup/samples", { timestamp: "2012-01-01 23:00:00 MST" });
    expect(noData.status).toBe(400);
    expect(noData.body.messages.join(" ")).toContain("data");
    expect((await call("POST", "/rest/reports/dup/samples", [])).status).toBe(400);
    // nothing of a rejected batch was stored
    expect((await call("GET", "/rest/reports/dup/samples")).body.totalCount).toBe(0);

    const late = await call("POST", "/rest/reports/dup/samples", { timestamp: "2011-12-01 19:16:57 MST", data: { cpu1: 2.3 } });
    expect(late.status).toBe(201);
    expect(late.body.messages[1]).toContain("before the window still open");

    expect((await call("GET", "/rest/reports/nope")).status).toBe(404);
    expect((await call("GET", "/rest/reports/99999/datapoints")).status).toBe(404);
    expect((await call("POST", "/rest/reports/nope/samples", { data: 1 })).status).toBe(404);
    expect((await call("DELETE", "/rest/reports/nope")).status).toBe(404);
    const wrong = await call("PUT", "/rest/reports/dup", { name: "dup" });
    expect(wrong.status).toBe(405);
    expect(wrong.body.messages[0]).toContain("not allowed");
  });

  test("users see their own reports and drover's; others' are 404, drover's are changed by admins only", async () => {
    await at(mst("23:30"));
    const alice = await t.userToken("alice");
    const bob = await t.userToken("bob");
    expect((await call("POST", "/rest/reports", { name: "alice-r", datapointDuration: 5, reportSize: 2 }, alice)).status).toBe(201);
    expect((await call("GET", "/rest/reports/alice-r", undefined, alice)).status).toBe(200);
    expect((await call("GET", "/rest/reports/alice-r", undefined, bob)).status).toBe(404);
    expect((await call("POST", "/rest/reports/alice-r/samples", { data: 1 }, bob)).status).toBe(404);
    expect((await call("DELETE", "/rest/reports/alice-r", undefined, bob)).status).toBe(404);
    expect((await call("GET", "/rest/reports", undefined, bob)).body.results.map((r: { name: string }) => r.name)).not.toContain("alice-r");
    expect((await call("GET", "/rest/reports/alice-r")).status).toBe(200); // admin

    await registerNode(t.database.db, create(RegisterSchema, { nodeName: "n-own", hostname: "n-own", cores: 2, memoryBytes: 1n << 30n }), "test");
    await ensureNodeReports(t.database.db, t.config, "n-own");
    expect((await call("GET", "/rest/reports/node-n-own", undefined, bob)).status).toBe(200);
    const denied = await call("POST", "/rest/reports/node-n-own/samples", { data: 1 }, bob);
    expect(denied.status).toBe(403);
    expect((await call("DELETE", "/rest/reports/cluster", undefined, bob)).status).toBe(403);
    expect((await call("GET", "/rest/reports")).status).toBe(200);
    expect((await t.request("/rest/reports")).status).toBe(401);
  });

  test("agents' samples feed the node's report and the cluster report; the nodes API shows the latest", async () => {
    const start = Date.UTC(2012, 0, 3, 0, 0, 0);
    await at(start);
    await registerNode(t.database.db, create(RegisterSchema, { nodeName: "n-fed", hostname: "n-fed", cores: 2, memoryBytes: 4n << 30n }), "test");
    await ensureNodeReports(t.database.db, t.config, "n-fed");
    const sample = (offsetS: number, cpu: number, used: bigint) =>
      create(SampleSchema, {
        timestampMs: BigInt(start + offsetS * 1000),
        cpuTotal: cpu,
        cpuPerCore: [cpu, cpu / 2],
        memoryUsedBytes: used,
        memoryTotalBytes: 4n << 30n,
        load1: 0.5,
        load5: 0.25,
        load15: 0.1,
      });
    await t.database.db.transaction((tx) => recordSamplesOfNodes(tx, [{ nodeId: "n-fed", samples: [sample(10, 0.2, 1n << 30n), sample(20, 0.4, 3n << 30n)] }]));
    const node = (await call("GET", "/rest/nodes/n-fed")).body;
    expect(node.cpuLoad).toBe(0.5);
    expect(node.availableMemory).toBe(1024);
    await at(start + 30_000);
    expect(await sampleCluster(t.database.db, 10_000)).toBe(true);
    expect(await sampleCluster(t.database.db, 10_000)).toBe(false); // one per interval, whoever writes it
    await at(start + 60_000);
    await consolidateDueReports(t.database.db);
    const [point] = await datapoints("node-n-fed");
    expect(point!.data).toEqual({
      cpuUtilization: 30,
      cpuPerCore: { cpu0: 30, cpu1: 15 },
      memory: { usedBytes: 2 * 2 ** 30, totalBytes: 4 * 2 ** 30 },
      load: { minutes1: 0.5, minutes5: 0.25, minutes15: 0.1 },
    });
    const cluster = (await call("GET", "/rest/reports/cluster")).body;
    expect(cluster.datapointDuration).toBe(60);
    expect(cluster.reportSize).toBe(1440);
    const last = cluster.datapoints.at(-1) as DatapointView;
    // n-own of the previous test may or may not have timed out by now; n-fed is up
    expect(last.data).toMatchObject({ processors: { allocated: 0 }, jobs: { running: 0, starting: 0, queued: 0 }, cpuUtilization: expect.any(Number) });
    expect((last.data as { nodes: { up: number } }).nodes.up).toBeGreaterThanOrEqual(1);
  });
  test("a consolidation round stops between reports when asked; what it left is done by the next", async () => {
    const start = clock.ms + 3_600_000;
    await at(start);
    const names = ["stop-a", "stop-b", "stop-c", "stop-d", "stop-e"];
    for (const name of names) expect((await call("POST", "/rest/reports", { name, datapointDuration: 60, reportSize: 10 })).status).toBe(201);
    for (const name of names) expect((await call("POST", `/rest/reports/${name}/samples`, [{ timestamp: formatMwsDate(start + 1000), data: { v: 1 } }])).status).toBe(201);
    await at(start + 120_000);
    let asked = 0;
    const first = await consolidateDueReports(t.database.db, clock.ms, () => asked++ >= 2);
    expect(first.length).toBe(2);
    const rest = await consolidateDueReports(t.database.db, clock.ms);
    const done = [...first, ...rest].map((r) => r.report).filter((n) => names.includes(n));
    expect(done.sort()).toEqual(names);
    for (const name of names) expect((await datapoints(name)).length).toBeGreaterThan(0);
  });
});
