import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachDatabase } from "../../helpers/databases.ts";
import { startTestController, type TestController } from "../../helpers/controller.ts";
import { installExampleApps } from "../../../controller/src/apps/example-apps.ts";

await forEachDatabase("apps kept as files", (database) => {
  let c: TestController;
  beforeAll(async () => {
    c = await startTestController(database(), {}, {
      beforeStart: (home) => {
        expect(installExampleApps(join(home, "apps"))).toBe(true);
        expect(installExampleApps(join(home, "apps"))).toBe(false); // an existing directory is left alone
        writeFileSync(join(home, "apps", "broken.json"), "{ not json");
        writeFileSync(join(home, "apps", "bad.json"), JSON.stringify({ name: "bad", command: ["{x}"] }));
      },
    });
  });
  afterAll(() => c.stop());

  test("the example apps in DROVER_HOME/apps are loaded at start; a bad file is skipped", async () => {
    const apps = (await (await c.request("/apps", { token: await c.adminToken() })).json()) as { name: string }[];
    expect(apps.map((a) => a.name)).toEqual(["fits-header", "sleeper", "splitter", "wordcount"]);
  });

  test("an app whose file is gone goes at the next start", async () => {
    const { loadAppFiles } = await import("../../../controller/src/apps/app-catalogue.ts");
    const dir = join(c.home, "apps-later");
    mkdirSync(dir);
    writeFileSync(join(dir, "sleeper.json"), JSON.stringify({ name: "sleeper", command: ["sleep", "1"] }));
    expect((await loadAppFiles(c.database.db, dir)).loaded).toEqual(["sleeper"]);
    const apps = (await (await c.request("/apps", { token: await c.adminToken() })).json()) as { name: string }[];
    expect(apps.map((a) => a.name)).toEqual(["sleeper"]);
  });
});
