import { z } from "zod";

/** Row shapes as the pool returns them (int8/numeric as strings). */
export const subnetRow = z.object({
  id: z.number(),
  namespace_id: z.number(),
  namespace: z.string(),
  parent_id: z.number().nullable(),
  cidr: z.string(),
  gateway: z.string().nullable(),
  pools: z.array(z.object({ start: z.string(), end: z.string() })),
  pools_explicit: z.boolean(),
  reserved: z.array(z.string()),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  children_only: z.boolean(),
  release_hold_seconds: z.number(),
  min_prefix_length: z.number().nullable(),
  max_prefix_length: z.number().nullable(),
  default_prefix_length: z.number().nullable(),
  idempotency_key: z.string().nullable(),
  claim: z.string().nullable(),
  free_blocks_built: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type SubnetRow = z.infer<typeof subnetRow>;

export const allocationRow = z.object({
  id: z.string(),
  subnet_id: z.number(),
  owner: z.string(),
  idempotency_key: z.string().nullable(),
  claim: z.string().nullable(),
  strategy: z.enum(["specific", "sequential", "random"]),
  requested_address: z.string().nullable(),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  created_at: z.string(),
  updated_at: z.string(),
  ip_version: z.union([z.literal(4), z.literal(6)]),
  ordinals: z.array(z.string()),
  /** The subnet's, for what a caller's outputs show beside the allocation. */
  prefix_length: z.number(),
  gateway: z.string().nullable(),
});
export type AllocationRow = z.infer<typeof allocationRow>;

export const freeRangeRow = z.object({ first_ordinal: z.string(), last_ordinal: z.string() });
export type FreeRangeRow = z.infer<typeof freeRangeRow>;

export const ordinalRow = z.object({ ordinal: z.string(), address: z.string() });

/*
 * One-column rows, shared. A schema made inside a query function is made on every call, and zod 4
 * compiles each new object schema's parser (`new Function`) on its first parse: 75 µs per call
 * against 0.9 µs for a schema made once (measured, Node 24).
 */
export const idRow = z.object({ id: z.number() });
export const textIdRow = z.object({ id: z.string().nullable() });
export const labelRow = z.object({ label: z.string() });
export const countRow = z.object({ count: z.number() });
export const nRow = z.object({ n: z.number() });
export const ordinalTextRow = z.object({ ordinal: z.string() });
export const cidrTextRow = z.object({ cidr: z.string() });
export const claimRow = z.object({ claim: z.string().nullable() });
export const ownerRow = z.object({ owner: z.string() });
export const parentIdRow = z.object({ parent_id: z.number() });
export const subnetIdRow = z.object({ subnet_id: z.number() });
