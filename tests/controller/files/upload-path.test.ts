import { expect, test } from "bun:test";
import { loadConfig } from "../../../shared/src/config.ts";
import { contentPath, resolveUploadPath } from "../../../controller/src/files/upload-path.ts";

const config = loadConfig({ DROVER_UPLOAD_ROOTS: "/srv/shared,/data/in/" }, "/home/drover");
const admin = { username: "root-ish", role: "admin" as const };
const alice = { username: "alice", role: "user" as const };

test("~/ is the requester's own files area under DROVER_HOME", () => {
  expect(resolveUploadPath(config, alice, "~/scripts/run.sh")).toBe("/home/drover/files/home/alice/scripts/run.sh");
  expect(resolveUploadPath(config, admin, "~/x")).toBe("/home/drover/files/home/root-ish/x");
});

test("no path: chosen later from the content's MD5", () => {
  expect(resolveUploadPath(config, alice, undefined)).toBeUndefined();
  expect(contentPath(config, "334d5669e1fb34a7d0583a9773e1b237")).toBe("/home/drover/files/uploads/3/3/4/d5669e1fb34a7d0583a9773e1b237");
});

test("absolute paths only for administrators, only under an upload root", () => {
  expect(resolveUploadPath(config, admin, "/srv/shared/tool")).toBe("/srv/shared/tool");
  expect(resolveUploadPath(config, admin, "/data/in/a/b")).toBe("/data/in/a/b");
  expect(() => resolveUploadPath(config, admin, "/srv/sharedother/x")).toThrow(/not under an upload root/);
  expect(() => resolveUploadPath(config, admin, "/etc/passwd")).toThrow(/not under an upload root/);
  expect(() => resolveUploadPath(config, alice, "/srv/shared/tool")).toThrow(/Only administrators/);
});

test(".. , relative paths, NUL bytes and bare ~ are refused", () => {
  expect(() => resolveUploadPath(config, alice, "~/../bob/x")).toThrow(/may not contain ".."/);
  expect(() => resolveUploadPath(config, admin, "/srv/shared/../../etc/x")).toThrow(/may not contain ".."/);
  expect(() => resolveUploadPath(config, alice, "relative/x")).toThrow(/must start with ~\//);
  expect(() => resolveUploadPath(config, alice, "~/a\0b")).toThrow(/NUL/);
  expect(() => resolveUploadPath(config, alice, "~/")).toThrow(/must name a file/);
});
