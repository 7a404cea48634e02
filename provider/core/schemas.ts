import { z } from "zod";
import { InvalidInputError } from "./errors.js";

/** Limits keep one request's work and storage bounded whatever the caller sends. */
export const LIMITS = {
  pools: 64,
  reserved: 256,
  tags: 64,
  tagKeyLength: 128,
  tagValueLength: 256,
  descriptionLength: 1024,
  ownerLength: 256,
  idempotencyKeyLength: 256,
  claimLength: 128,
  maxCount: 65_536,
  pageSize: 1_000,
} as const;

const noNul = (value: string) => !value.includes("\u0000");
const NUL_MESSAGE = "must not contain NUL characters";
// PostgreSQL stores UTF-8: an unpaired UTF-16 surrogate would be silently replaced (text) or
// refused by the server (jsonb), so it is refused here, naming the field.
const wellFormed = (value: string) => !/\p{Surrogate}/u.test(value);
const SURROGATE_MESSAGE = "must be valid Unicode text (it contains an unpaired surrogate)";

const text = (max: number) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? "is required" : "must be a string") })
    .max(max, { error: `must be at most ${max} characters` })
    .refine(noNul, { error: NUL_MESSAGE })
    .refine(wellFormed, { error: SURROGATE_MESSAGE });

const nonEmptyText = (max: number) => text(max).refine((value) => value.length > 0, { error: "must not be empty" });

/** An opaque token naming one claimant of a subnet or allocation (README "Claims"). */
export const claimSchema = nonEmptyText(LIMITS.claimLength);

export const namespaceSchema = z
  .string({ error: "must be a string" })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    error: "must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
  });

// zod drops an own "__proto__" key without a word (it cannot be data on a plain object), so a tag
// would silently vanish on its way to the database: refuse it instead.
const hasProtoKey = (input: unknown) => typeof input === "object" && input !== null && Object.hasOwn(input, "__proto__");

export const tagsSchema = z
  .custom<unknown>((input) => !hasProtoKey(input), { error: 'tag key "__proto__" is not allowed' })
  .pipe(
    z
      .record(
        text(LIMITS.tagKeyLength).refine((key) => key.length > 0, { error: "tag keys must not be empty" }),
        text(LIMITS.tagValueLength),
        { error: "must be a map of string to string" },
      )
      .refine((tags) => Object.keys(tags).length <= LIMITS.tags, { error: `must have at most ${LIMITS.tags} entries` }),
  );

/** Public ids are decimal strings of positive integers; subnet ids fit PostgreSQL's int4 (they key advisory locks). */
export const subnetIdSchema = z
  .string({ error: "must be a subnet id string" })
  .regex(/^[1-9]\d{0,9}$/, { error: "must be a positive decimal integer string", abort: true })
  .refine((id) => Number(id) <= 2_147_483_647, { error: "is out of range" });

export const allocationIdSchema = z
  .string({ error: "must be an allocation id string" })
  .regex(/^[1-9]\d{0,17}$/, { error: "must be a positive decimal integer string" });

const poolSchema = z.strictObject(
  { start: z.string({ error: "must be an address string" }), end: z.string({ error: "must be an address string" }) },
  { error: "must be an object {start, end}" },
);

export const subnetFieldsSchema = {
  allocationPools: z
    .array(poolSchema, { error: "must be an array of {start, end}" })
    .max(LIMITS.pools, { error: `must have at most ${LIMITS.pools} pools` }),
  gateway: z.string({ error: "must be an address string or null" }).nullable(),
  reserved: z
    .array(z.string({ error: "must be an address or CIDR string" }), { error: "must be an array of strings" })
    .max(LIMITS.reserved, { error: `must have at most ${LIMITS.reserved} entries` }),
  description: text(LIMITS.descriptionLength),
  tags: tagsSchema,
};

/** A whole number in [min, max], each way out named; `belowMin` replaces the lower-bound message. */
export const wholeNumber = (min: number, max: number, belowMin = `must be at least ${min}`) =>
  z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: belowMin })
    .max(max, { error: `must be at most ${max}` });

/** A prefix length as a request field (checked against the address family and the parent's rules later). */
export const prefixLengthSchema = wholeNumber(1, 128);

/** How a child block is chosen: the lowest free aligned one, or one from the smallest free block that fits. */
export const childStrategySchema = z.enum(["first-fit", "best-fit"], { error: 'must be "first-fit" or "best-fit"' });
export type ChildStrategy = z.infer<typeof childStrategySchema>;

/** What a subnet allows its children; null removes a rule. */
export const childRuleFieldsSchema = {
  childrenOnly: z.boolean({ error: "must be a boolean" }),
  minPrefixLength: prefixLengthSchema.nullable(),
  maxPrefixLength: prefixLengthSchema.nullable(),
  defaultPrefixLength: prefixLengthSchema.nullable(),
};

/** Hold-down: seconds a released address stays out of next-free, random and bulk picks (0: none; at most a year). */
export const releaseHoldSecondsSchema = wholeNumber(0, 31_536_000);

/** What a create may set and an update may change, each optional. */
const settableSubnetFields = {
  allocationPools: subnetFieldsSchema.allocationPools.optional(),
  gateway: subnetFieldsSchema.gateway.optional(),
  reserved: subnetFieldsSchema.reserved.optional(),
  description: subnetFieldsSchema.description.optional(),
  tags: subnetFieldsSchema.tags.optional(),
  childrenOnly: childRuleFieldsSchema.childrenOnly.optional(),
  minPrefixLength: childRuleFieldsSchema.minPrefixLength.optional(),
  maxPrefixLength: childRuleFieldsSchema.maxPrefixLength.optional(),
  defaultPrefixLength: childRuleFieldsSchema.defaultPrefixLength.optional(),
  releaseHoldSeconds: releaseHoldSecondsSchema.optional(),
};

const CHILD_ONLY = "can only be given with parentId (when carving a child from a parent)";

/**
 * A top-level subnet (`cidr`), or a child carved from `parentId`: a `prefixLength` block chosen by
 * `strategy`, or the specific `cidr` inside the parent. A child's namespace is its parent's.
 */
export const createSubnetSchema = z
  .strictObject({
    cidr: z.string({ error: "must be a CIDR string" }).optional(),
    parentId: subnetIdSchema.optional(),
    prefixLength: prefixLengthSchema.optional(),
    strategy: childStrategySchema.optional(),
    /** Repeating a request with the same key returns the subnet it created (a retried deployment never takes a second block or trips over its own subnet). */
    idempotencyKey: nonEmptyText(LIMITS.idempotencyKeyLength).optional(),
    claim: claimSchema.optional(),
    namespace: namespaceSchema.optional(),
    ...settableSubnetFields,
  })
  .superRefine((value, context) => {
    const issue = (field: string, message: string) => context.addIssue({ code: "custom", path: [field], message });
    if (value.parentId === undefined) {
      if (value.cidr === undefined) issue("cidr", "is required (or give parentId and prefixLength to carve a child from a parent)");
      for (const field of ["prefixLength", "strategy"] as const) if (value[field] !== undefined) issue(field, CHILD_ONLY);
      return;
    }
    if (value.cidr !== undefined && value.strategy !== undefined) issue("strategy", "cannot be given with a specific cidr");
    if (value.cidr === undefined) {
      for (const field of ["allocationPools", "gateway", "reserved"] as const) {
        if (value[field] !== undefined && value[field] !== null) {
          issue(field, "needs a specific cidr: the allocator chooses the child's CIDR (set it with updateSubnet once the child exists)");
        }
      }
    }
  });
export type CreateSubnetInput = z.input<typeof createSubnetSchema>;

/** Fields absent from an update keep their value; `allocationPools: null` restores the default pools. */
export const updateSubnetSchema = z.strictObject({
  ...settableSubnetFields,
  allocationPools: subnetFieldsSchema.allocationPools.nullable().optional(),
});
export type UpdateSubnetInput = z.input<typeof updateSubnetSchema>;

export const strategySchema = z.enum(["sequential", "random"], { error: 'must be "sequential" or "random"' });
export type AllocationStrategy = z.infer<typeof strategySchema>;

export const ownerSchema = nonEmptyText(LIMITS.ownerLength);
export const idempotencyKeySchema = nonEmptyText(LIMITS.idempotencyKeyLength);
/** What a release or delete may carry: the caller's claim, refused as superseded when a newer claimant holds it. */
export const claimOptionsSchema = z.strictObject({ claim: claimSchema.optional() });

export const allocateSchema = z
  .strictObject({
    subnetId: subnetIdSchema,
    owner: ownerSchema,
    idempotencyKey: idempotencyKeySchema.optional(),
    /** Recorded when the request replays an earlier one by idempotency key (README "Claims"). */
    claim: claimSchema.optional(),
    address: z.string({ error: "must be an address string" }).optional(),
    count: wholeNumber(1, LIMITS.maxCount).optional(),
    strategy: strategySchema.optional(),
    description: text(LIMITS.descriptionLength).optional(),
    tags: tagsSchema.optional(),
  })
  .superRefine((value, context) => {
    if (value.address !== undefined && value.count !== undefined && value.count !== 1) {
      context.addIssue({ code: "custom", path: ["count"], message: "must be 1 when a specific address is requested" });
    }
    if (value.address !== undefined && value.strategy === "random") {
      context.addIssue({ code: "custom", path: ["strategy"], message: "cannot be random when a specific address is requested" });
    }
  });
export type AllocateInput = z.input<typeof allocateSchema>;

export const resizeSchema = z.strictObject({
  allocationId: allocationIdSchema,
  claim: claimSchema.optional(),
  count: wholeNumber(1, LIMITS.maxCount, "must be at least 1 (release the allocation to free every address)"),
});

export const subnetFilterSchema = z.strictObject({ namespace: namespaceSchema.optional() });
export const allocationFilterSchema = z.strictObject({ subnetId: subnetIdSchema.optional(), owner: ownerSchema.optional() });

export const pageSchema = z.strictObject({
  limit: z.number().int().min(1).max(LIMITS.pageSize, { error: `must be at most ${LIMITS.pageSize}` }).optional(),
  /** Opaque cursor: the last allocation id of the previous page. */
  after: allocationIdSchema.optional(),
});

/** Pages of subnets in (namespace, CIDR) order: pass the returned `next` (a subnet id) as `after`. */
export const subnetPageSchema = z.strictObject({
  limit: wholeNumber(1, LIMITS.pageSize).optional(),
  after: subnetIdSchema.optional(),
});

/** Pages of a parent's children in address order: pass the returned `next` (a CIDR) as `after`. */
export const childPageSchema = z.strictObject({
  limit: wholeNumber(1, LIMITS.pageSize).optional(),
  after: z.string({ error: "must be the CIDR returned as `next` by the previous page" }).optional(),
});

/**
 * Validate `input` against `schema`, turning every issue into a field-named reason.
 * @throws InvalidInputError listing each offending field
 */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, prefix = ""): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new InvalidInputError(
    result.error.issues.map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter((part) => part !== "").join(".");
      const field = path === "" ? "input" : path;
      if (issue.code === "unrecognized_keys") {
        return { field, reason: `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => JSON.stringify(key)).join(", ")}` };
      }
      return { field, reason: issue.message };
    }),
  );
}
