import pg from "pg";
import { parseAddress } from "../../provider/core/address.js";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";

/** An open transaction in another session; `end` rolls it back and disconnects. */
export interface Blocker {
  readonly pid: number;
  end(): Promise<void>;
}

async function openTransaction(databaseUrl: string): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => undefined);
  await client.connect();
  const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  await client.query("BEGIN");
  return { client, pid };
}

const ender = (client: pg.Client) => async () => {
  await client.query("ROLLBACK").catch(() => undefined);
  await client.end().catch(() => undefined);
};

/** Hold a subnet's advisory lock, as a long request would. */
export async function holdSubnetLock(databaseUrl: string, subnetId: string): Promise<Blocker> {
  const { client, pid } = await openTransaction(databaseUrl);
  await client.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(subnetId)]);
  return { pid, end: ender(client) };
}

/**
 * Insert (uncommitted, bypassing the lock and the free index) a row holding `address`, so that a
 * request inserting the same address blocks on the unique key in the middle of its transaction,
 * holding the subnet's lock with part of its work written. Rolled back by `end`.
 */
export async function holdAddressRow(databaseUrl: string, subnetId: string, address: string, schema = "ipam"): Promise<Blocker> {
  const { client, pid } = await openTransaction(databaseUrl);
  const s = client.escapeIdentifier(schema);
  const parsed = parseAddress(address, "address");
  const allocation = await client.query<{ id: string }>(
    `INSERT INTO ${s}.allocation (subnet_id, owner, strategy, requested_address) VALUES ($1, 'test/blocker', 'specific', $2::inet) RETURNING id::text`,
    [Number(subnetId), parsed.text],
  );
  await client.query(`INSERT INTO ${s}.allocated_address (subnet_id, address, ordinal, allocation_id) VALUES ($1, $2::inet, $3::numeric, $4::bigint)`, [
    Number(subnetId),
    parsed.text,
    parsed.value.toString(),
    allocation.rows[0]!.id,
  ]);
  return { pid, end: ender(client) };
}
