// Loaded before every test file (bunfig.toml [test] preload): hooks for the whole run.
import { afterAll } from "bun:test";
import { removeTempDirs } from "./temp-dir.ts";

afterAll(removeTempDirs);
