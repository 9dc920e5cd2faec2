import { and, asc, eq, like, notInArray } from "drizzle-orm";
import { notFound } from "@drover/shared/errors";
import type { Db } from "../db/connect.ts";
import { apps } from "../db/schema.ts";
import { parseAppDefinition, type AppDefinition } from "./app-definition.ts";
import { syncDefinitionFiles } from "../db/definition-files.ts";


/** Every app, by name. */
export async function listApps(db: Db): Promise<AppDefinition[]> {
  const rows = await db.select().from(apps).orderBy(asc(apps.name));
  return rows.map((r) => parseAppDefinition(r.definition));
}

/** One app; 404 naming it when there is none. */
export async function getApp(db: Db, name: string): Promise<AppDefinition> {
  const [row] = await db.select().from(apps).where(eq(apps.name, name));
  if (!row) throw notFound(`Unknown app ${name}!`);
  return parseAppDefinition(row.definition);
}

/** Creates or replaces an app (an administrator's request, or a file). Returns whether it was new. */
export async function putApp(db: Db, definition: unknown, source = "api"): Promise<{ app: AppDefinition; created: boolean }> {
  const app = parseAppDefinition(definition);
  const existed = (await db.select({ name: apps.name }).from(apps).where(eq(apps.name, app.name))).length > 0;
  await db
    .insert(apps)
    .values({ name: app.name, definition: definition as Record<string, unknown>, source })
    .onConflictDoUpdate({ target: apps.name, set: { definition: definition as Record<string, unknown>, source, updatedAt: new Date() } });
  return { app, created: !existed };
}

/** Removes an app; jobs already launched from it are not touched. */
export async function deleteApp(db: Db, name: string): Promise<void> {
  const gone = await db.delete(apps).where(eq(apps.name, name)).returning({ name: apps.name });
  if (!gone.length) throw notFound(`Unknown app ${name}!`);
}

/**
 * Loads the apps an administrator keeps as files: every `*.json` in `dir` defines one app (see
 * app-definition.ts). Files are the truth for their apps: an app whose file is gone is removed.
 * A bad file is logged and skipped.
 */
export async function loadAppFiles(db: Db, dir: string): Promise<{ loaded: string[]; failed: string[] }> {
  return syncDefinitionFiles(
    "app",
    dir,
    async (parsed, source) => [(await putApp(db, parsed, source)).app.name],
    async (loaded, kept) => {
      const gone = await db
        .delete(apps)
        .where(and(like(apps.source, "file:%"), loaded.length ? notInArray(apps.name, loaded) : undefined, kept.length ? notInArray(apps.source, kept) : undefined))
        .returning({ name: apps.name });
      return gone.map((g) => g.name);
    },
  );
}
