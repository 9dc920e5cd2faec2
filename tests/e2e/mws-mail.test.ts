// Mail about jobs (MWS emailNotifyTypes, emailNotifyUsers): sent through the configured SMTP
// server when a job starts, ends or fails; here to a mail sink the test runs (smtp-server), the
// messages read back. Without a mail server, asking for mail is refused.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SMTPServer } from "smtp-server";
import { forEachDatabase, forEachDatabaseUrl } from "../helpers/databases.ts";
import { Cluster, freePort } from "../helpers/cluster.ts";
import { startTestController, type TestController } from "../helpers/controller.ts";
import { until } from "../helpers/until.ts";

interface Received {
  to: string[];
  text: string;
}

await forEachDatabaseUrl("mail about jobs", (url) => {
  let c: Cluster;
  let sink: SMTPServer;
  const received: Received[] = [];
  beforeAll(async () => {
    const port = await freePort();
    sink = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          received.push({ to: session.envelope.rcptTo.map((r) => r.address), text: Buffer.concat(chunks).toString("utf8") });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => sink.listen(port, "127.0.0.1", resolve));
    c = new Cluster({ databaseUrl: url(), env: { DROVER_SMTP_URL: `smtp://127.0.0.1:${port}`, DROVER_MAIL_FROM: "drover@cluster.example" } });
    await c.startController();
    await c.startAgent("node-a");
  }, 90_000);
  afterAll(async () => {
    await c.stop();
    await new Promise<void>((resolve) => sink.close(() => resolve()));
  });

  const mailsOf = (jobId: string, count: number) =>
    until(() => {
      const mine = received.filter((m) => m.text.includes(`drover job ${jobId.replace("drover.", "")} `));
      return mine.length >= count ? mine : undefined;
    }, 30_000, `${count} mails about job ${jobId}`);

  test("BEGIN and END: a mail when the job starts and one when it ends, to the addresses given, from the configured sender", async () => {
    const id = await c.submit({ commandLine: "true", name: "mailed", emailNotifyTypes: ["BEGIN", "END"], emailNotifyUsers: ["ann@example.org", "bob@example.org"] });
    const mails = await mailsOf(id, 2);
    const subjects = mails.map((m) => /^Subject: (.*)$/m.exec(m.text)?.[1]?.trim());
    expect(subjects.sort()).toEqual([`drover job ${id.replace("drover.", "")} (mailed) ended`, `drover job ${id.replace("drover.", "")} (mailed) started`]);
    for (const m of mails) {
      expect(m.to.sort()).toEqual(["ann@example.org", "bob@example.org"]);
      expect(m.text).toMatch(/^From: drover@cluster\.example/m);
    }
    expect(mails.find((m) => m.text.includes("ended"))!.text).toContain("state: completed");
    const job = await c.job(id);
    expect(job).toMatchObject({ emailNotifyTypes: ["BEGIN", "END"], emailNotifyUsers: ["ann@example.org", "bob@example.org"] });
  }, 60_000);

  test("FAIL: a failing job is mailed about once, with its exit code; a job that completes is not", async () => {
    const failing = await c.submit({ commandFile: "/bin/sh", commandLineArguments: '-c "exit 3"', emailNotifyTypes: ["FAIL"], emailNotifyUsers: ["ann@example.org"] });
    const fine = await c.submit({ commandLine: "true", emailNotifyTypes: ["FAIL"], emailNotifyUsers: ["ann@example.org"] });
    const [mail] = await mailsOf(failing, 1);
    expect(mail!.text).toContain("failed");
    expect(mail!.text).toContain("exit code: 3");
    await c.waitForState(fine, ["COMPLETED"]);
    await Bun.sleep(1500); // the mailer's rounds are a second apart
    expect(received.filter((m) => m.text.includes(`drover job ${fine.replace("drover.", "")} `))).toEqual([]);
  }, 60_000);

  test("an unknown event, no addresses, or a bad address is a 400 naming it", async () => {
    for (const [extra, why] of [
      [{ emailNotifyTypes: ["SOMETIMES"], emailNotifyUsers: ["a@b.c"] }, "emailNotifyTypes SOMETIMES"],
      [{ emailNotifyTypes: ["END"] }, "needs emailNotifyUsers"],
      [{ emailNotifyTypes: ["ALL"], emailNotifyUsers: ["not an address"] }, "must be mail addresses"],
    ] as const) {
      const res = await c.api("/rest/jobs", { method: "POST", json: { commandLine: "true", ...extra } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { messages: string[] }).messages[0]).toContain(why);
    }
  });
});

await forEachDatabase("mail about jobs without a mail server", (db) => {
  let c: TestController;
  beforeAll(async () => {
    c = await startTestController(db());
  });
  afterAll(() => c.stop());

  test("asking for mail is refused, saying mail is not configured; nothing is stored", async () => {
    const admin = await c.adminToken();
    const res = await c.request("/rest/jobs", { method: "POST", token: admin, json: { commandLine: "true", emailNotifyTypes: ["END"], emailNotifyUsers: ["a@b.c"] } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { messages: string[] }).messages[0]).toContain("Mail is not configured on this drover (mail.smtpUrl)");
    expect(((await (await c.request("/rest/jobs", { token: admin })).json()) as { totalCount: number }).totalCount).toBe(0);
  });
});
