import { sql, type SQL } from "drizzle-orm";

/**
 * Rows handed to Postgres as one jsonb parameter and read there with jsonb_to_recordset, for
 * bulk statements on hot paths: the statement's text is the same whatever the number of rows
 * (so it is planned once and nothing is built per row here), and there is no limit on rows
 * from the protocol's 65,535 parameters. `columns` declares the row type, e.g. "id bigint, kind text".
 */
export function recordset(rows: readonly object[], columns: string): SQL {
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(${sql.raw(columns)})`;
}

/**
 * `column = any(ids)`: added beside a join with a recordset, it lets Postgres reach the rows
 * through their index. (It guesses 100 rows for any recordset and, planning a statement once
 * for all sizes, would otherwise scan and hash a whole table of a few thousand rows.)
 */
export function anyId(column: string, ids: readonly number[]): SQL {
  return sql`${sql.raw(column)} = any(${`{${ids.map((id) => Math.trunc(id)).join(",")}}`}::bigint[])`;
}

/** Starts a statement that is prepared once per connection (see connect.ts): use it for constant text only. */
export const PREPARED_MARK = "/* prepared */";

/** A hot statement of constant text, prepared once per connection (Postgres; PGlite ignores the mark). */
export function prepared(query: SQL): SQL {
  return sql`${sql.raw(PREPARED_MARK)} ${query}`;
}
