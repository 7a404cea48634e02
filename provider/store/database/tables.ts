import { sql, type IdentifierSqlToken } from "slonik";
import { assertSchemaName } from "./schemaName.js";

/** Schema-qualified identifiers for every object the store touches. */
export interface Tables {
  readonly schema: string;
  readonly namespace: IdentifierSqlToken;
  readonly subnet: IdentifierSqlToken;
  readonly allocation: IdentifierSqlToken;
  readonly allocatedAddress: IdentifierSqlToken;
  readonly freeRange: IdentifierSqlToken;
  readonly freeBlock: IdentifierSqlToken;
  readonly auditEvent: IdentifierSqlToken;
  readonly installation: IdentifierSqlToken;
  readonly ordinalToInet: IdentifierSqlToken;
  readonly inetToOrdinal: IdentifierSqlToken;
  readonly allocateNextBatch: IdentifierSqlToken;
  /** Migration 0023: a release in one statement. */
  readonly releaseAllocation: IdentifierSqlToken;
  /** Migration 0011: released addresses held back (hold-down), and the write fence. */
  readonly heldAddress: IdentifierSqlToken;
  readonly heldBlock: IdentifierSqlToken;
  readonly writeFence: IdentifierSqlToken;
  /** Migration 0013: bulk allocations still being written in chunks. */
  readonly pendingAllocation: IdentifierSqlToken;
}

export function tablesFor(schema: string): Tables {
  assertSchemaName(schema);
  const name = (table: string) => sql.identifier([schema, table]);
  return {
    schema,
    namespace: name("namespace"),
    subnet: name("subnet"),
    allocation: name("allocation"),
    allocatedAddress: name("allocated_address"),
    freeRange: name("free_range"),
    freeBlock: name("free_block"),
    auditEvent: name("audit_event"),
    installation: name("installation"),
    ordinalToInet: name("ordinal_to_inet"),
    inetToOrdinal: name("inet_to_ordinal"),
    allocateNextBatch: name("allocate_next_batch"),
    releaseAllocation: name("release_allocation"),
    heldAddress: name("held_address"),
    heldBlock: name("held_block"),
    writeFence: name("write_fence"),
    pendingAllocation: name("pending_allocation"),
  };
}
