import { z } from "zod";
import { UsageError } from "../exitCodes.js";

/**
 * The documents `ipam preview-report` reads, as pulumi/pulumi publishes them for other tools:
 * - `pulumi preview --json`: `PreviewDigest` (sdk/go/common/display/json.go): `steps` of
 *   `PreviewStep { op, urn, provider, oldState, newState, diffReasons, replaceReasons, detailedDiff }`,
 *   each state an `apitype.ResourceV3` (sdk/go/common/apitype/core.go), built by `ShowPreviewDigest`
 *   (pkg/backend/display/json.go), which writes every secret as the string "[secret]" (`MassageSecrets`).
 * - `pulumi stack export`: `apitype.UntypedDeployment { version, deployment: DeploymentV3 { resources } }`;
 *   a DIY backend's checkpoint file (`CheckpointV3 { checkpoint: { latest: { resources } } }`) is accepted too.
 * Only the fields the report uses are checked; everything else is passed over.
 */

/** How the engine serializes a value computed during the update (pkg/resource/stack/deployment.go, `computedValuePlaceholder`). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** How ShowPreviewDigest writes a secret value. */
export const SECRET = "[secret]";

export const ALLOCATION_TYPE = "pulumi-nodejs:dynamic/ipam:IpAllocation";
export const SUBNET_TYPE = "pulumi-nodejs:dynamic/ipam:Subnet";

const props = z.record(z.string(), z.unknown());

const resourceV3 = z.looseObject({
  urn: z.string(),
  type: z.string(),
  id: z.string().optional(),
  custom: z.boolean().optional(),
  inputs: props.optional(),
  outputs: props.optional(),
  parent: z.string().optional(),
  external: z.boolean().optional(),
  propertyDependencies: z.record(z.string(), z.array(z.string())).optional(),
});
export type ResourceV3 = z.infer<typeof resourceV3>;

const previewStep = z.looseObject({
  op: z.string(),
  urn: z.string(),
  provider: z.string().optional(),
  oldState: resourceV3.nullish(),
  newState: resourceV3.nullish(),
  diffReasons: z.array(z.string()).nullish(),
  replaceReasons: z.array(z.string()).nullish(),
});
export type PreviewStep = z.infer<typeof previewStep>;

const previewDigest = z.looseObject({
  config: z.record(z.string(), z.string()).optional(),
  steps: z.array(previewStep).optional(),
  diagnostics: z.array(z.looseObject({ urn: z.string().optional(), message: z.string().optional(), severity: z.string().optional() })).optional(),
  changeSummary: z.record(z.string(), z.number()).optional(),
});
export type PreviewDigest = z.infer<typeof previewDigest>;

const stackExport = z.looseObject({ deployment: z.looseObject({ resources: z.array(resourceV3).nullish() }) });
const checkpointFile = z.looseObject({ checkpoint: z.looseObject({ latest: z.looseObject({ resources: z.array(resourceV3).nullish() }) }) });

/** @throws UsageError naming the file and the first field that does not fit */
export function parsePreviewDigest(text: string, file: string): PreviewDigest {
  return parse(previewDigest, text, file, "a `pulumi preview --json` document");
}

/** The resources of a `pulumi stack export` (or a DIY checkpoint). @throws UsageError */
export function parseStackExport(text: string, file: string): ResourceV3[] {
  const what = "a `pulumi stack export` document";
  if (text.includes('"checkpoint"') && !text.includes('"deployment"')) return parse(checkpointFile, text, file, what).checkpoint.latest.resources ?? [];
  return parse(stackExport, text, file, what).deployment.resources ?? [];
}

function parse<T>(schema: z.ZodType<T>, text: string, file: string, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: not JSON (${(error as Error).message.slice(0, 200)}); expected ${what}`);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.length === 0 ? "(document)" : issue.path.join(".");
    throw new UsageError(`${file}: ${path}: ${issue.message}; expected ${what}`);
  }
  return result.data;
}

/** The resource name: the URN's last part (sdk/go/common/resource/urn.go, `URN.Name`). */
export function nameOfUrn(urn: string): string {
  return urn.split("::").slice(3).join("::");
}

/** A string value that is known and not hidden, else undefined. */
export function known(value: unknown): string | undefined {
  return typeof value === "string" && value !== UNKNOWN && value !== SECRET ? value : undefined;
}
