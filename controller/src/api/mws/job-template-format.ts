import { Type as T, type Static } from "@sinclair/typebox";
import parseArgsStringToArgv from "string-argv";
import { invalid } from "@drover/shared/errors";
import type { JobTemplate, TemplateInput, TemplateSpec } from "../../jobs/job-templates.ts";

const MB = 1024 * 1024;

/** Requirement fields of 3.5.1.2 drover has no counterpart for: refused by name. */
const unsupportedRequirements = ["architecture", "diskRequirement", "genericResources", "nodeAccessPolicy", "operatingSystem", "requiredDiskPerTask", "requiredSwapPerTask"];
/** Template fields of 3.5.1.2 drover has no counterpart for: refused unless empty (null, false, ""). */
const unsupportedFields = ["account", "qos", "queue", "genericSystemJob", "inheritResources", "trigger", "vmUsagePolicy"];

const Requirement = T.Object(
  {
    requiredProcessorsPerTask: T.Optional(T.Integer({ minimum: 1 })),
    taskCount: T.Optional(T.Integer({ minimum: 1 })),
    tasksPerNode: T.Optional(T.Integer({ minimum: 1, description: "drover: processors per node, as in job submission" })),
    requiredMemoryPerTask: T.Optional(T.Integer({ minimum: 0, description: "MB" })),
    requiredFeatures: T.Optional(T.Array(T.String())),
    ...Object.fromEntries(unsupportedRequirements.map((k) => [k, T.Optional(T.Unknown())])),
  },
  { additionalProperties: false },
);

/** A job template as MWS 3.5 shows it; the body of drover's admin calls that define one. */
export const MwsJobTemplatePayload = T.Object(
  {
    id: T.Optional(T.String({ minLength: 1 })),
    description: T.Optional(T.String({ maxLength: 4096 })),
    commandFile: T.Optional(T.String({ minLength: 1 })),
    args: T.Optional(T.String()),
    durationRequested: T.Optional(T.Integer({ minimum: 1, description: "walltime in seconds" })),
    priority: T.Optional(T.Integer({ minimum: -1024, maximum: 1024 })),
    jobFlags: T.Optional(T.Array(T.String())),
    jobDependencies: T.Optional(T.Array(T.Object({ name: T.String({ minLength: 1 }), type: T.String() }, { additionalProperties: false }), { maxItems: 16 })),
    jobTemplateFlags: T.Optional(T.Array(T.String())),
    select: T.Optional(T.Boolean()),
    jobTemplateRequirements: T.Optional(T.Array(Requirement, { maxItems: 1 })),
    environmentVariables: T.Optional(T.Record(T.String(), T.String(), { description: "drover: environment defaults" })),
    initialWorkingDirectory: T.Optional(T.String()),
    // read-only: accepted so that a template read with GET can be sent back as it is
    version: T.Optional(T.Integer()),
    source: T.Optional(T.String()),
    ...Object.fromEntries(unsupportedFields.map((k) => [k, T.Optional(T.Unknown())])),
  },
  { additionalProperties: false },
);
export type MwsJobTemplatePayload = Static<typeof MwsJobTemplatePayload>;

const isEmpty = (v: unknown) => v === undefined || v === null || v === false || v === "" || (Array.isArray(v) && v.length === 0);

/** Translates an MWS job template into drover's template input; `id` comes from the URL when given there. */
export function fromMwsTemplate(body: MwsJobTemplatePayload, id = body.id): TemplateInput {
  if (!id) throw invalid(`Invalid template field "id": a job template needs an id`);
  if (body.id !== undefined && body.id !== id) throw invalid(`The body's id "${body.id}" does not match the template "${id}" in the URL`);
  const fields = body as Record<string, unknown>;
  const refused = unsupportedFields.filter((k) => !isEmpty(fields[k]));
  const req = (body.jobTemplateRequirements?.[0] ?? {}) as Static<typeof Requirement> & Record<string, unknown>;
  refused.push(...unsupportedRequirements.filter((k) => !isEmpty(req[k])).map((k) => `jobTemplateRequirements.${k}`));
  if (refused.length) throw invalid(`drover does not support ${refused.join(", ")} in job templates; leave them out`);
  const unknownFlags = (body.jobTemplateFlags ?? []).filter((f) => f.toUpperCase() !== "SELECT");
  if (unknownFlags.length) throw invalid(`Unknown jobTemplateFlags ${unknownFlags.join(", ")}: drover knows SELECT`);
  if (body.args !== undefined && body.commandFile === undefined) throw invalid(`Template ${id}: args need a commandFile`);
  if (body.initialWorkingDirectory !== undefined && !body.initialWorkingDirectory.startsWith("/")) {
    throw invalid(`Template ${id}: initialWorkingDirectory must be an absolute path`);
  }

  const perTask = req.requiredProcessorsPerTask ?? 1;
  const spec: TemplateSpec = {
    argv: body.commandFile === undefined ? undefined : [body.commandFile, ...parseArgsStringToArgv(body.args ?? "")],
    walltimeMs: body.durationRequested === undefined ? undefined : body.durationRequested * 1000,
    priority: body.priority,
    flags: body.jobFlags,
    cpus: req.taskCount !== undefined || req.requiredProcessorsPerTask !== undefined ? perTask * (req.taskCount ?? 1) : undefined,
    tasksPerNode: req.tasksPerNode,
    // a task's memory is shared by its processors; drover counts memory per processor
    memoryBytes: req.requiredMemoryPerTask === undefined ? undefined : Math.ceil((req.requiredMemoryPerTask * MB) / perTask),
    features: req.requiredFeatures,
    environment: body.environmentVariables,
    workingDirectory: body.initialWorkingDirectory,
  };
  for (const k of Object.keys(spec) as (keyof TemplateSpec)[]) if (spec[k] === undefined) delete spec[k];
  const selectable = body.select ?? (body.jobTemplateFlags ? body.jobTemplateFlags.some((f) => f.toUpperCase() === "SELECT") : true);
  return { id, description: body.description, spec, dependencies: body.jobDependencies, selectable };
}

/** Quotes an argument so that commandFile + args splits back into the same words. */
const quote = (a: string) => (/^[^\s"'\\]+$/.test(a) ? a : `"${a.replace(/(["\\])/g, "\\$1")}"`);

/** Renders a template as MWS 3.5.1.2 shows it. */
export function mwsTemplateView(t: JobTemplate) {
  const s = t.spec;
  const cpus = s.cpus ?? 1;
  return {
    id: t.id,
    description: t.description,
    commandFile: s.argv?.[0] ?? null,
    args: s.argv ? s.argv.slice(1).map(quote).join(" ") : null,
    durationRequested: s.walltimeMs === undefined ? null : Math.round(s.walltimeMs / 1000),
    priority: s.priority ?? 0,
    jobFlags: s.flags ?? [],
    jobDependencies: t.dependencies,
    jobTemplateFlags: t.selectable ? ["SELECT"] : [],
    select: t.selectable,
    jobTemplateRequirements: [
      {
        requiredProcessorsPerTask: 1,
        taskCount: cpus,
        tasksPerNode: s.tasksPerNode ?? null,
        requiredMemoryPerTask: s.memoryBytes === undefined ? null : Math.round(s.memoryBytes / MB),
        requiredFeatures: s.features ?? [],
      },
    ],
    environmentVariables: s.environment ?? {},
    initialWorkingDirectory: s.workingDirectory ?? null,
    account: null,
    qos: null,
    queue: null,
    genericSystemJob: false,
    inheritResources: false,
    trigger: null,
    vmUsagePolicy: null,
    version: t.version,
    source: t.source,
  };
}
