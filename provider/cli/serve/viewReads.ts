import type { DatabasePool } from "slonik";
import { parseAddress, parseCidr } from "../../core/address.js";
import { InvalidInputError } from "../../core/errors.js";
import type { Allocation } from "../../core/types.js";
import { allocationIdsInRange, searchAddressSpace } from "../../store/addressSearch.js";
import { inConsistentRead } from "../../store/consistentRead.js";
import { createDatabasePool } from "../../store/databasePool.js";
import { wrapDatabaseError } from "../../store/databaseErrors.js";
import { allocationFromRow } from "../../store/allocationQueries.js";
import { subnetFromRow } from "../../store/subnetRecords.js";
import { readSubnetMetrics, SubnetSizeCache } from "../../store/subnetMetrics.js";
import { tablesFor } from "../../store/tables.js";
import type { IpamReads, ViewReads } from "./serveData.js";

const CELL_HOLDERS = 50;

/** The web view's own reads, each one REPEATABLE READ, READ ONLY transaction with the timeouts set. */
export async function openViewReads(url: string, schema: string, ipam: IpamReads, statementTimeoutMs: number): Promise<ViewReads & { close(): Promise<void> }> {
  const pool: DatabasePool = await createDatabasePool(url, { maxConnections: 2 });
  const t = tablesFor(schema);
  const sizes = new SubnetSizeCache();
  const read = async <T>(doing: string, work: Parameters<typeof inConsistentRead<T>>[2]): Promise<T> => {
    try {
      return await inConsistentRead(pool, { lockTimeoutMs: statementTimeoutMs, statementTimeoutMs }, work);
    } catch (error) {
      throw wrapDatabaseError(error, doing);
    }
  };
  return {
    subnetMetrics: (filter = {}) => read("reading metrics", (tx) => readSubnetMetrics(tx, t, filter, sizes)),
    async searchAddressSpace(text) {
      const query = text.includes("/") ? { text: parseCidr(text, "q").text, isAddress: false } : { text: parseAddress(text, "q").text, isAddress: true };
      const found = await read("searching", (tx) => searchAddressSpace(tx, t, query));
      return { query: query.text, isAddress: query.isAddress, subnets: found.subnets.map((row) => subnetFromRow(row)), allocations: found.holders.map(allocationFromRow) };
    },
    async allocationsInRange(subnetId, first, last) {
      if (!/^\d{1,9}$/.test(subnetId)) throw InvalidInputError.of("subnetId", "must be a subnet id");
      const ids = await read("reading a map cell", (tx) => allocationIdsInRange(tx, t, Number(subnetId), parseAddress(first, "first").text, parseAddress(last, "last").text, CELL_HOLDERS));
      const allocations: Allocation[] = [];
      for (const id of ids) allocations.push(await ipam.getAllocation(id));
      return allocations;
    },
    close: () => pool.end(),
  };
}
