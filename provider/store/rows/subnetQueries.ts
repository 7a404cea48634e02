import { sql, type CommonQueryMethods } from "slonik";
import { NotFoundError } from "../../core/errors.js";
import type { ChildRules } from "../../core/prefixPolicy.js";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import { subnetRow, type SubnetRow, idRow, labelRow } from "./rowShapes.js";
import type { Tables } from "../database/tables.js";
import { type BoundConnection } from "../database/storeDatabase.js";

export interface SubnetColumns {
  readonly layout: SubnetLayout;
  readonly description: string;
  readonly tags: Record<string, string>;
  readonly childrenOnly: boolean;
  readonly rules: ChildRules;
  readonly releaseHoldSeconds: number;
}

/** Every column a SubnetRow needs (alias `s` for subnet, `n` for namespace). */
export function selectSubnet(t: Tables) {
  return sql.fragment`
    SELECT s.id, s.namespace_id, n.name AS namespace, s.parent_id, s.cidr::text AS cidr, host(s.gateway) AS gateway, s.pools,
           s.pools_explicit, s.reserved, s.description, s.tags, s.children_only, s.min_prefix_length, s.max_prefix_length,
           s.default_prefix_length, s.release_hold_seconds, s.idempotency_key, s.claim, s.free_blocks_built, s.created_at, s.updated_at
    FROM ${t.subnet} s JOIN ${t.namespace} n ON n.id = s.namespace_id
  `;
}

export async function getSubnetRow(db: BoundConnection, id: number): Promise<SubnetRow | null> {
  return db.maybeOne(sql.type(subnetRow)`${selectSubnet(db.t)} WHERE s.id = ${id}`);
}

/**
 * The subnet's row: the one place "read the subnet, else NOT_FOUND" is written.
 * @throws NotFoundError naming `shownId` (the id as the caller gave it)
 */
export async function requireSubnetRow(db: BoundConnection, id: number, shownId: string = String(id)): Promise<SubnetRow> {
  const row = await getSubnetRow(db, id);
  if (row === null) throw new NotFoundError("subnet", shownId);
  return row;
}

/**
 * Subnets in (namespace, CIDR, id) order; with `page`, at most `limit` of them after the subnet
 * `after` (keyset paging: a deep page costs what the first does, through subnet_namespace_cidr).
 */
export async function listSubnetRows(
  db: BoundConnection,
  filter: { namespace?: string | undefined; parentId?: number | undefined },
  page?: { limit: number; after?: number | undefined },
): Promise<readonly SubnetRow[]> {
  const conditions = [sql.fragment`TRUE`];
  // The namespace's id as a constant (not `n.name = ...` through the join): only then does the planner
  // see that subnet_namespace_cidr already gives (cidr, id) order and stop after `limit` rows,
  // instead of reading every subnet of the namespace past the cursor and sorting them.
  if (filter.namespace !== undefined) conditions.push(sql.fragment`s.namespace_id = (SELECT id FROM ${db.t.namespace} WHERE name = ${filter.namespace})`);
  if (filter.parentId !== undefined) conditions.push(sql.fragment`s.parent_id = ${filter.parentId}`);
  // Within one namespace the key leaves the name out: an index condition on (namespace_id, cidr, id) alone.
  const key = filter.namespace === undefined ? sql.fragment`n.name, s.cidr, s.id` : sql.fragment`s.cidr, s.id`;
  if (page?.after !== undefined) {
    conditions.push(sql.fragment`(${key}) > (SELECT ${key} FROM ${db.t.subnet} s JOIN ${db.t.namespace} n ON n.id = s.namespace_id WHERE s.id = ${page.after})`);
  }
  const limit = page === undefined ? sql.fragment`` : sql.fragment`LIMIT ${page.limit}`;
  return db.any(sql.type(subnetRow)`${selectSubnet(db.t)} WHERE ${sql.join(conditions, sql.fragment` AND `)} ORDER BY ${key} ${limit}`);
}

/** Subnets in `namespace` whose CIDR overlaps `cidr` (to name the culprit of an overlap). */
export async function findOverlapping(db: BoundConnection, namespace: string, cidr: string): Promise<string | null> {
  return db.maybeOneFirst(sql.type(labelRow)`
    SELECT s.id || ' (' || s.cidr::text || ')' AS label
    FROM ${db.t.subnet} s JOIN ${db.t.namespace} n ON n.id = s.namespace_id
    WHERE n.name = ${namespace} AND s.parent_id IS NULL AND s.cidr && ${cidr}::cidr
    ORDER BY s.id LIMIT 1
  `);
}

export async function upsertNamespace(db: BoundConnection, name: string): Promise<number> {
  return db.oneFirst(sql.type(idRow)`
    INSERT INTO ${db.t.namespace} (name) VALUES (${name})
    ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
    RETURNING id
  `);
}

function layoutValues(layout: SubnetLayout) {
  return {
    gateway: layout.gateway?.text ?? null,
    pools: sql.jsonb(layout.pools.map((pool) => ({ start: pool.start, end: pool.end }))),
    reserved: sql.jsonb(layout.reserved.map((range) => range.text)),
  };
}

/**
 * Insert a subnet; its id is drawn from the sequence, or, for `ipam reconcile` re-creating one a
 * stack's state holds, `kept.id` (with that state's claim).
 */
export async function insertSubnet(
  db: BoundConnection,
  namespaceId: number,
  parentId: number | null,
  columns: SubnetColumns & { readonly idempotencyKey?: string | null },
  kept?: { readonly id: number; readonly claim: string | null },
): Promise<number> {
  const values = layoutValues(columns.layout);
  const rules = columns.rules;
  const id = kept === undefined ? sql.fragment`` : sql.fragment`id, claim, `;
  const idValue = kept === undefined ? sql.fragment`` : sql.fragment`${kept.id}, ${kept.claim}, `;
  const overriding = kept === undefined ? sql.fragment`` : sql.fragment`OVERRIDING SYSTEM VALUE`;
  return db.oneFirst(sql.type(idRow)`
    INSERT INTO ${db.t.subnet} (${id}namespace_id, parent_id, cidr, gateway, pools, pools_explicit, reserved, description, tags,
                             children_only, min_prefix_length, max_prefix_length, default_prefix_length, release_hold_seconds, idempotency_key)
    ${overriding}
    VALUES (${idValue}${namespaceId}, ${parentId}, ${columns.layout.cidr.text}::cidr, ${values.gateway}::inet, ${values.pools},
            ${columns.layout.poolsExplicit}, ${values.reserved}, ${columns.description}, ${sql.jsonb(columns.tags)},
            ${columns.childrenOnly}, ${rules.minPrefixLength}, ${rules.maxPrefixLength}, ${rules.defaultPrefixLength},
            ${columns.releaseHoldSeconds}, ${columns.idempotencyKey ?? null})
    RETURNING id
  `);
}

/** Also marks the free blocks for rebuilding: the gateway and reserved ranges shape them. */
export async function updateSubnetRow(db: BoundConnection, id: number, columns: SubnetColumns): Promise<void> {
  const values = layoutValues(columns.layout);
  const rules = columns.rules;
  await db.query(sql.unsafe`
    UPDATE ${db.t.subnet}
    SET gateway = ${values.gateway}::inet, pools = ${values.pools}, pools_explicit = ${columns.layout.poolsExplicit},
        reserved = ${values.reserved}, description = ${columns.description}, tags = ${sql.jsonb(columns.tags)},
        children_only = ${columns.childrenOnly}, min_prefix_length = ${rules.minPrefixLength},
        max_prefix_length = ${rules.maxPrefixLength}, default_prefix_length = ${rules.defaultPrefixLength},
        release_hold_seconds = ${columns.releaseHoldSeconds},
        free_blocks_built = free_blocks_built AND gateway IS NOT DISTINCT FROM ${values.gateway}::inet AND reserved = ${values.reserved},
        updated_at = now()
    WHERE id = ${id}
  `);
}

export async function deleteSubnetRow(db: BoundConnection, id: number): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM ${db.t.subnet} WHERE id = ${id}`);
}

/**
 * The history is written by the database's triggers (migration 0007), which see every change but
 * not why it was made: this labels the changes of the current transaction (an import; a child's
 * carving strategy; an imported subnet's source id). It cannot add an event of its own.
 */
export async function auditHint(db: CommonQueryMethods, hint: { action?: "import"; strategy?: string; sourceId?: string }): Promise<void> {
  const detail = JSON.stringify({ strategy: hint.strategy, sourceId: hint.sourceId });
  await db.query(sql.unsafe`SELECT set_config('ipam.audit_action', ${hint.action ?? ""}, true), set_config('ipam.audit_detail', ${detail}, true)`);
}
