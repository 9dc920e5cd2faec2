// The live event feed: confined to what a user may see, bounded for a client that does not read.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { forEachDatabase } from "../../helpers/databases.ts";
import { startTestController, type TestController } from "../../helpers/controller.ts";
import { eventStream, QUEUE_LIMIT } from "../../../controller/src/events/event-feed.ts";

await forEachDatabase("the live event feed", (database) => {
  let c: TestController;
  beforeAll(async () => {
    c = await startTestController(database());
  });
  afterAll(() => c.stop());

  test("a user hears of their own jobs only; a client that does not read loses events beyond the bound, and is told", async () => {
    const feed = c.context.events;
    const alice = feed.listen({ username: "alice", role: "user" });
    const slow = feed.listen({ username: "admin", role: "admin" });
    await feed.poll(); // the starting point
    const submit = (owner: string, n: number) =>
      c.database.db.execute(sql`
        with j as (insert into jobs (owner, argv) select ${owner}, '["true"]'::jsonb from generate_series(1, ${n}) returning id)
        insert into job_events (job_id, kind) select id, 'submitted' from j`);
    await submit("alice", 3);
    await submit("bob", 2);
    await feed.poll();
    expect(alice.queue.map((e) => (e.type === "job" ? e.owner : ""))).toEqual(["alice", "alice", "alice"]);
    expect(slow.queue).toHaveLength(5);

    await submit("bob", QUEUE_LIMIT + 200);
    await feed.poll();
    expect(slow.queue).toHaveLength(QUEUE_LIMIT);
    expect(slow.dropped).toBe(205);
    expect(alice.queue).toHaveLength(3); // nothing of bob's reached alice, and nothing was dropped
    const reader = eventStream(feed, slow).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("event: dropped")) text += decoder.decode((await reader.read()).value);
    expect(text).toContain('event: dropped\ndata: {"count":205}');
    await reader.cancel();
    feed.unlisten(alice);
    expect(feed.size).toBe(0);
  });
});
