import { join, normalize } from "node:path";
import { forbidden, invalid } from "@drover/shared/errors";
import type { Config } from "@drover/shared/config";
import type { Principal } from "../auth/principal.ts";

/** A user's own files area under DROVER_HOME: what "~/" means in an upload path. */
export const userFilesDir = (config: Config, username: string) => join(config.home, "files", "home", username);

/** Where uploads without a path go, named after their content's MD5. */
export const uploadsDir = (config: Config) => join(config.home, "files", "uploads");

/**
 * Where an upload asked to go may land (wr's PUT /rest/v1/upload/?path=): "~/…" in the
 * requester's own files area; an absolute path only for administrators and only under
 * files.uploadRoots. ".." is refused outright. undefined path: chosen from the content later.
 */
export function resolveUploadPath(config: Config, principal: Principal, path: string | undefined): string | undefined {
  if (path === undefined || path === "") return undefined;
  if (path.includes("\0")) throw invalid("path must not hold NUL characters");
  if (path.split("/").includes("..")) throw invalid(`path "${path}" may not contain "..": give a path inside your files area (~/…)`);
  if (path === "~" || path === "~/") throw invalid("path must name a file, like ~/my_script");
  if (path.startsWith("~/")) {
    const home = userFilesDir(config, principal.username);
    return join(home, normalize(path.slice(2)));
  }
  if (!path.startsWith("/")) throw invalid(`path "${path}" must start with ~/ (your files area) or be absolute`);
  if (principal.role !== "admin") throw forbidden(`Only administrators may upload to an absolute path; use ~/… for your own files area`);
  const target = normalize(path);
  const root = config.files.uploadRoots.find((r) => target.startsWith(r === "/" ? "/" : `${r}/`));
  if (!root) {
    throw forbidden(
      config.files.uploadRoots.length
        ? `${target} is not under an upload root (files.uploadRoots: ${config.files.uploadRoots.join(", ")})`
        : "No upload roots are configured (files.uploadRoots), so uploads may only go to ~/…",
    );
  }
  return target;
}

/** The path an upload without one gets: uploads/a/b/c/<rest of its MD5>, as wr names them. */
export function contentPath(config: Config, md5: string): string {
  return join(uploadsDir(config), md5[0]!, md5[1]!, md5[2]!, md5.slice(3));
}
