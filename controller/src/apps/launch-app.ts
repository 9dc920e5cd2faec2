import { invalid } from "@drover/shared/errors";
import type { Principal } from "../auth/principal.ts";
import type { Core } from "../core.ts";
import type { Job, JobInputFile } from "../db/schema.ts";
import { getFile } from "../files/file-store.ts";
import { submitJobs } from "../jobs/submit-job.ts";
import { checkValue, renderCommand, type AppDefinition } from "./app-definition.ts";
import { getApp } from "./app-catalogue.ts";

/** An app run as submitted: the job as the submission left it, and its inputs as they are shown (files by uuid). */
export interface LaunchedApp {
  app: AppDefinition;
  job: Job;
  inputs: Record<string, string | number | boolean>;
}

/** The inputs an app does not have as options. */
export const unknownOptions = (app: AppDefinition, names: string[]) => names.filter((n) => !app.options[n]);

/** The mandatory options the inputs leave out. */
export const missingOptions = (app: AppDefinition, given: Record<string, unknown>) =>
  Object.entries(app.options)
    .filter(([name, o]) => o.mandatory && (given[name] === undefined || given[name] === null))
    .map(([name]) => name);

/** Accepts a file option's value: a file's uuid, or a path whose file name is <uuid>.<ext> (as caesar's clients send). */
const fileIdOf = (value: string) => /^(?:.*\/)?([0-9a-f]{32})(?:\.[A-Za-z0-9]+)?$/.exec(value)?.[1];

/**
 * Launches an app for the principal: every input is checked against the app's options (an
 * unknown option, a wrong type, a missing mandatory one: 400 naming it), defaults fill what is
 * left out, file options name the principal's stored files (placed into the job's directory on
 * whichever node runs it), and the command is rendered to argv — no shell ever sees a value.
 */
export async function launchApp(
  core: Core,
  principal: Principal,
  name: string,
  given: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  opts: { statusLocation?: string } = {},
): Promise<LaunchedApp> {
  const app = await getApp(core.db, name).catch(() => {
    throw invalid(`App ${name} not known or supported`);
  });
  const [unknown] = unknownOptions(app, Object.keys(given));
  if (unknown) throw invalid(`Option ${unknown} is not an option of app ${name} (its options: ${Object.keys(app.options).join(", ") || "none"})`);
  const [missing] = missingOptions(app, given);
  if (missing) throw invalid(`Mandatory option ${missing} not present!`);
  const values: Record<string, string | number | boolean> = {};
  const shown: Record<string, string | number | boolean> = {};
  const inputFiles: JobInputFile[] = [];
  for (const [key, option] of Object.entries(app.options)) {
    const raw = given[key];
    if (raw === undefined || raw === null) {
      if (option.default !== undefined) values[key] = option.default;
      continue;
    }
    const value = checkValue(name, key, option, raw);
    if (option.type !== "file") {
      values[key] = value;
      shown[key] = value;
      continue;
    }
    const id = fileIdOf(value as string);
    if (!id) throw invalid(`Option ${key} of app ${name} expects the uuid of one of your files, not "${value}"`);
    const file = await getFile(core, principal, id).catch(() => {
      throw invalid(`Option ${key} of app ${name}: no file with uuid ${id} (upload it first)`);
    });
    // the file keeps its own name in the job's directory (two options naming one file share it)
    const placed = inputFiles.find((f) => f.fileId === file.id)?.name ?? uniqueName(file.name, inputFiles);
    if (!inputFiles.some((f) => f.fileId === file.id)) inputFiles.push({ fileId: file.id, name: placed, sha256: file.sha256, sizeBytes: file.sizeBytes });
    values[key] = placed;
    shown[key] = file.id;
  }
  const argv = renderCommand(app, values);
  const [submitted] = await submitJobs(
    core,
    principal,
    [
    {
      name: app.name,
      argv,
      cpus: app.resources.cpus,
      memoryBytes: app.resources.memoryBytes ? Math.ceil(app.resources.memoryBytes / app.resources.cpus) : undefined,
      walltimeMs: app.resources.walltimeMs ?? undefined,
      container: app.container,
      app: app.name,
      appInputs: shown,
      inputFiles,
      extra,
      statusLocation: opts.statusLocation,
    },
    ],
    { readBack: true },
  );
  return { app, job: submitted!.row!, inputs: shown };
}

function uniqueName(name: string, taken: JobInputFile[]): string {
  let candidate = name;
  for (let i = 2; taken.some((f) => f.name === candidate); i++) candidate = `${i}-${name}`;
  return candidate;
}
