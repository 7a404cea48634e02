/**
 * claims/: who made or last claimed a subnet or an allocation. The idempotency-key replay and its
 * mismatch checks, claims that supersede older ones, and the keyed-write sequence (replay, write,
 * lost COMMIT, concurrent twin) that every keyed write follows.
 */
export { keyedWrite, type KeyedWrite } from "./keyedWrite.js";
