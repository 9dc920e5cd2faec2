/**
 * The embedded database's settings, beside PGlite's defaults. (A module of its own so that the
 * memory floor of scripts/floors/embedded-database.ts opens PGlite exactly as drover does.)
 *
 * shared_buffers: Postgres's default, 128MB, was most of drover start's memory (PGlite touches all
 * of them at its start); its files stay in the system's page cache, and 300 jobs through
 * `drover start` ran as fast with 4 MB as with 16 MB (BENCHMARKS.md).
 */
export const EMBEDDED_SETTINGS = ["-c", "shared_buffers=4MB"];
