// The dashboard at /ui in a real browser (Debian's chromium, driven by playwright-core) against a
// real cluster: sign-in, the pages, live updates without reloading, actions; screenshots of each
// page in test-results/dashboard/; axe-core on each page. /metrics read by a Prometheus parser.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster } from "../helpers/cluster.ts";
import { until } from "../helpers/until.ts";

const CHROMIUM = process.env.DROVER_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = join(import.meta.dir, "..", "..", "test-results", "dashboard");
const AXE = readFileSync(join(import.meta.dir, "..", "..", "node_modules", "axe-core", "axe.min.js"), "utf8");

if (!existsSync(CHROMIUM)) {
  const why = `the browser tests need Debian's chromium at ${CHROMIUM} (apt-get install chromium; scripts/test installs it when it runs as root)`;
  if (process.env.CI === "true") throw new Error(why);
  console.warn(`skipping: ${why}`);
  test.skip(`dashboard in a browser (${why})`, () => {});
} else {
  mkdirSync(SHOTS, { recursive: true });
  await forEachDatabaseUrl("the dashboard in a browser", (url, kind) => {
    let c: Cluster;
    let browser: Browser;
    let page: Page;
    const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${kind}-${name}.png`), fullPage: true });
    /** No serious or critical accessibility violation on the page as it is. */
    const accessible = async (name: string) => {
      if (!(await page.evaluate(() => "axe" in globalThis))) await page.addScriptTag({ content: AXE });
      const violations = await page.evaluate(async () => {
        const result = await (globalThis as unknown as { axe: { run: (o: object) => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> } }).axe.run({ resultTypes: ["violations"] });
        return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.nodes.length})`);
      });
      expect({ page: name, violations }).toEqual({ page: name, violations: [] });
    };
    const submit = async (command: string) => {
      const res = await c.json<{ id: string }>("/rest/jobs", { method: "POST", json: { commandFile: "/bin/sh", commandLineArguments: `-c "${command}"` } });
      return Number(String(res.id).replace(/\D/g, ""));
    };

    beforeAll(async () => {
      c = new Cluster({ databaseUrl: url(), env: { DROVER_NODE_REPORT_DATAPOINT: "1s", DROVER_SAMPLE_INTERVAL: "300ms", DROVER_METRICS_TOKEN: "scrape-me" } });
      await c.startController();
      await c.startAgent("node-a", { args: ["--cpus", "2"] });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      // axe-core is injected into the page: the dashboard's CSP (scripts from itself only) is bypassed for that
      page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    }, 90_000);
    afterAll(async () => {
      await browser?.close();
      await c?.stop();
    });

    test("sign-in: a wrong password says so; the right one shows the overview with the node up", async () => {
      await page.goto(`${c.url}/ui`);
      await page.getByLabel("Username").fill("admin");
      await page.getByLabel("Password").fill("wrong-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect(page.getByRole("alert").textContent()).resolves.toBe("Wrong username or password");
      await accessible("sign-in");
      await shot("sign-in");
      await page.getByLabel("Password").fill("cluster-admin-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      await until(async () => ((await page.getByTestId("nodes-up").textContent()) === "1" ? true : undefined), 20_000, "the node to show up");
      // the token is kept in sessionStorage, never in the URL
      expect(page.url()).not.toContain("ey");
      expect(await page.evaluate(() => sessionStorage.getItem("drover.token"))).toMatch(/^ey/);
      await until(async () => (Number(await page.locator("figure.chart").first().getAttribute("data-points")) >= 1 ? true : undefined), 20_000, "the cluster chart to have data");
      await accessible("overview");
      await shot("overview");
    }, 60_000);

    test("nodes: the table, and a node's charts drawn from its report and live samples", async () => {
      await page.getByRole("link", { name: "Nodes", exact: true }).click();
      await page.getByRole("link", { name: "node-a" }).click();
      await page.getByRole("heading", { name: "Node node-a" }).waitFor();
      await until(async () => {
        const counts = await page.locator("figure.chart").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-points"))));
        return counts.length === 3 && counts.every((n) => n >= 2) ? true : undefined;
      }, 30_000, "the node's charts to have points");
      expect(await page.locator("figure.chart canvas").count()).toBe(3);
      await accessible("node");
      await shot("node");
    }, 60_000);

    test("jobs: a job submitted over REST appears and completes without a reload; its live output", async () => {
      await page.getByRole("link", { name: "Jobs", exact: true }).click();
      await page.getByRole("heading", { name: "Jobs" }).waitFor();
      const marker = await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = Math.random()));
      const id = await submit("for i in 1 2 3 4 5 6; do echo line $i; sleep 0.4; done");
      const row = page.locator(`tr[data-job="${id}"]`);
      await row.waitFor({ timeout: 20_000 });
      await until(async () => ((await row.locator(".state").textContent()) === "completed" ? true : undefined), 30_000, "the row to show completed");
      expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(marker); // no reload
      await accessible("jobs");
      await shot("jobs");

      const slow = await submit("for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.5; done");
      await page.locator(`tr[data-job="${slow}"] a`).first().click();
      await page.getByRole("heading", { name: `Job ${slow}` }).waitFor();
      await until(async () => ((await page.getByTestId("stdout").textContent())?.includes("tick 3") ? true : undefined), 20_000, "the output to grow live");
      expect(await page.getByTestId("job-state").textContent()).toBe("running");
      await until(async () => ((await page.getByTestId("job-state").textContent()) === "completed" ? true : undefined), 20_000, "the job to complete");
      expect(await page.getByTestId("stdout").textContent()).toContain("tick 10");
      await accessible("job");
      await shot("job");
    }, 90_000);

    test("cancel a job from its page", async () => {
      const id = await submit("sleep 60");
      await page.goto(`${c.url}/ui#/jobs/${id}`);
      await page.getByRole("heading", { name: `Job ${id}` }).waitFor();
      await until(async () => ((await page.getByTestId("job-state").textContent()) === "running" ? true : undefined), 20_000, "the job to run");
      await page.getByRole("button", { name: "Cancel" }).click();
      await until(async () => ((await page.getByTestId("job-state").textContent()) === "cancelled" ? true : undefined), 20_000, "the job to be cancelled");
      expect((await c.json(`/jobs/${id}`)).state).toBe("cancelled");
    }, 60_000);

    test("groups, reports and admin pages", async () => {
      for (const [link, heading] of [["Groups", "Groups"], ["Reports", "Reports"], ["Admin", "Admin"]]) {
        await page.getByRole("link", { name: link, exact: true }).click();
        await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
        if (link === "Reports") await until(async () => ((await page.locator("figure.chart").count()) > 0 ? true : undefined), 20_000, "a report's charts");
        if (link === "Admin") await page.getByRole("cell", { name: "tests" }).first().waitFor();
        await accessible(link);
        await shot(link.toLowerCase());
      }
    }, 60_000);

    test("an expired token returns to sign-in with a message; a refused one too", async () => {
      const fake = (exp: number) => `${btoa(JSON.stringify({ alg: "HS256" }))}.${btoa(JSON.stringify({ sub: "admin", role: "admin", exp }))}.sig`;
      await page.evaluate((t) => sessionStorage.setItem("drover.token", t), fake(Math.floor(Date.now() / 1000) - 60));
      await page.reload();
      await expect(page.getByRole("status").textContent()).resolves.toBe("Your session has expired: sign in again.");
      await page.evaluate((t) => sessionStorage.setItem("drover.token", t), fake(Math.floor(Date.now() / 1000) + 3600));
      await page.reload();
      await page.getByRole("status").waitFor({ timeout: 10_000 });
      expect(await page.getByRole("status").textContent()).toBe("Your session has expired: sign in again.");
    }, 30_000);

    test("GET /metrics in Prometheus's text format, for admins or the metrics token only", async () => {
      expect((await fetch(`${c.url}/metrics`)).status).toBe(401);
      const res = await fetch(`${c.url}/metrics`, { headers: { authorization: "Bearer scrape-me" } });
      expect(res.headers.get("content-type")).toContain("text/plain");
      const families = parsePrometheusTextFormat(await res.text()) as { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string }[] }[];
      const names = families.map((f) => f.name);
      for (const n of ["drover_jobs", "drover_job_submissions_total", "drover_job_dispatches_total", "drover_job_run_seconds", "drover_scheduling_pass_seconds", "drover_nodes", "drover_agents_connected", "drover_agent_events_total", "drover_http_requests_total", "drover_http_request_seconds", "drover_db_connections", "drover_process_cpu_seconds_total", "drover_process_resident_memory_bytes"]) {
        expect(names).toContain(n);
      }
      const jobs = families.find((f) => f.name === "drover_jobs")!;
      expect(jobs.metrics.some((m) => m.labels?.state === "completed" && m.labels?.dialect === "mws" && Number(m.value) >= 2)).toBe(true);
      const http = families.find((f) => f.name === "drover_http_requests_total")!;
      expect(http.metrics.some((m) => m.labels?.route === "/jobs/:id" && m.labels?.status === "200")).toBe(true);
      expect(Number(families.find((f) => f.name === "drover_agents_connected")!.metrics[0]!.value)).toBe(1);
    });
  });
}
