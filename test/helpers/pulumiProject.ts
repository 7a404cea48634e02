import yaml from "js-yaml";
import { z } from "zod";

/**
 * The checks `pulumi` applies when it loads a Pulumi.yaml, in the order it applies them
 * (pulumi/pulumi sdk/go/common/workspace/loaders.go `LoadProjectBytes`):
 *   1. `ValidateProject` (project.go): `name` present and a non-empty string, then the JSON schema
 *      project.json (top level: `name` and `runtime` required, other keys allowed);
 *   2. `RewriteShorthandConfigValues` (project.go): a bare config value becomes `{default: v}` when the key
 *      is in the project's namespace (no `:` or `<project>:`), else `{value: v}`;
 *   3. `Project.Validate` (project.go): per config key, rules that depend on its namespace.
 * Schema as of pulumi/pulumi commit 5351d868 (project.json `configTypeDeclaration` allows `value` and no
 * longer requires `type`). Update this file when those change.
 */

const simpleConfigType = z.enum(["string", "integer", "boolean", "array"]); // project.json $defs.simpleConfigType
type ItemsType = { type: unknown; items?: ItemsType };
// project.json $defs.configItemsType: `type` required; `items` required when type is "array".
const configItemsType: z.ZodType<ItemsType> = z.lazy(() =>
  z
    .object({ type: z.union([simpleConfigType, configItemsType]), items: configItemsType.optional() })
    .refine((items) => items.type !== "array" || items.items !== undefined, { message: "an array type needs `items`" }),
);
// project.json $defs.configTypeDeclaration: additionalProperties false.
const configTypeDeclaration = z
  .object({
    type: simpleConfigType.optional(),
    items: configItemsType.optional(),
    description: z.string().optional(),
    secret: z.boolean().optional(),
    default: z.unknown().optional(),
    value: z.unknown().optional(),
  })
  .strict();
const nullableString = z.string().nullable().optional();
// project.json properties (the ones with a schema; additionalProperties true at the top level).
const projectSchema = z.looseObject({
  name: z.string().min(1),
  description: nullableString,
  author: nullableString,
  website: nullableString,
  license: nullableString,
  main: nullableString,
  stackConfigDir: nullableString,
  runtime: z.union([z.string().min(1), z.object({ name: z.string().min(1).optional(), options: z.record(z.string(), z.unknown()).optional() }).strict()]),
  config: z.record(z.string(), z.union([z.string(), z.number().int(), z.boolean(), configTypeDeclaration])).nullable().optional(),
  backend: z.object({ url: z.string().optional() }).strict().nullable().optional(),
  options: z.object({ refresh: z.literal("always").optional() }).strict().nullable().optional(),
});

/** project.go `configKeyIsNamespacedByProject`. */
function namespacedByProject(project: string, key: string): boolean {
  return !key.includes(":") || key.startsWith(`${project}:`);
}

/** project.go `ValidateConfigValue`, for a typed `default`. */
function matchesType(type: string, items: ItemsType | undefined, value: unknown): boolean {
  if (type === "string") return typeof value === "string";
  if (type === "integer") return Number.isInteger(value) || (typeof value === "string" && /^[+-]?\d+$/.test(value));
  if (type === "boolean") return typeof value === "boolean" || value === "true" || value === "false";
  if (!Array.isArray(value) || items === undefined) return false;
  return value.every((item) => matchesType(String(items.type), items.items, item));
}

/** The errors `pulumi` would report loading this Pulumi.yaml text; empty when it loads. */
export function pulumiProjectErrors(text: string): string[] {
  let raw: unknown;
  try {
    raw = yaml.load(text);
  } catch (error) {
    return [`could not unmarshal: ${(error as Error).message.split("\n")[0]}`];
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return ["expected project to be an object"];
  const name = (raw as Record<string, unknown>).name;
  if (name === undefined) return ["project is missing a 'name' attribute"];
  if (typeof name !== "string" || name === "") return ["project is missing a non-empty string 'name' attribute"];
  const parsed = projectSchema.safeParse(raw);
  if (!parsed.success) return parsed.error.issues.map((issue) => `#/${issue.path.join("/")}: ${issue.message}`);
  const errors: string[] = [];
  for (const [key, declared] of Object.entries(parsed.data.config ?? {})) {
    const namespaced = namespacedByProject(name, key);
    // RewriteShorthandConfigValues
    const entry = typeof declared === "object" ? declared : namespaced ? { default: declared } : { value: declared };
    // Project.Validate
    if (entry.default !== undefined && entry.value !== undefined) errors.push(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
    if (namespaced) {
      if (entry.type === "array" && entry.items === undefined) errors.push(`The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`);
      if (entry.type !== undefined && entry.default !== undefined && !matchesType(entry.type, entry.items, entry.default)) {
        errors.push(`The default value specified for configuration key '${key}' is not of the expected type '${entry.type}'`);
      }
    } else {
      if (entry.type !== undefined) errors.push(`Configuration key '${key}' is not namespaced by the project and should not define a type`);
      else if (entry.default !== undefined) errors.push(`Configuration key '${key}' is not namespaced by the project and should not define a default value`);
      else if (entry.value === undefined) errors.push(`Configuration key '${key}' is namespaced and must provide an attribute 'value'`);
    }
  }
  return errors;
}
