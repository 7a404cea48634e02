import type { DatabasePool } from "slonik";
import type { Ipam } from "../provider/store/Ipam.js";
import type { Tables } from "../provider/store/database/tables.js";

/** What every scenario gets: the same server, pool size and timing settings as the baselines. */
export interface BenchContext {
  readonly url: string;
  /** slonik pool from createDatabasePool, the same client stack Ipam uses. */
  readonly pool: DatabasePool;
  readonly ipam: Ipam;
  readonly t: Tables;
  readonly clients: number;
  readonly durationMs: number;
  readonly quick: boolean;
  /** Sample count for latency percentiles. */
  readonly samples: number;
  readonly log: (line: string) => void;
}

export const OWNER = "bench";
