import type { Config } from "@drover/shared/config";
import type { Authenticator } from "../auth/authenticate.ts";
import type { Db } from "../db/connect.ts";
import type { Core } from "../core.ts";
import type { EventFeed } from "../events/event-feed.ts";

/** What every REST adapter is given: the database, settings and the authenticator. */
export interface ApiContext {
  db: Db;
  config: Config;
  auth: Authenticator;
  core: Core;
  /** the live event feed behind GET /events */
  events: EventFeed;
}
