import { OutcomeUnknownError } from "../../core/errors.js";
import { orNull } from "../database/storeDatabase.js";

/**
 * The sequence every write with an idempotency key follows, written once (like NetBox's "find,
 * check, take under lock" for every kind of available object):
 * 1. replay: an earlier request with the key already made it (when `replayFirst`);
 * 2. write;
 * 3. COMMIT's answer was lost: what the key finds now is what this request committed; nothing
 *    found (or the look-up failing too) sends the original OutcomeUnknownError back, and retrying
 *    the keyed request is safe;
 * 4. a concurrent twin (same key) committed first (`isTwin` says which failures can mean that):
 *    return what it made;
 * 5. anything else goes to `refuse`.
 */
export interface KeyedWrite<Earlier, Result> {
  readonly key: string | null;
  readonly replayFirst: boolean;
  /** What an earlier request with the key made, or null. */
  readonly replay: () => Promise<Earlier | null>;
  /** The result for what the key found; `madeNow` when it was this request's own lost COMMIT. */
  readonly found: (earlier: Earlier, madeNow: boolean) => Result;
  readonly write: () => Promise<Result>;
  readonly isTwin: (error: unknown) => boolean;
  readonly refuse: (error: unknown) => Promise<never>;
}

export async function keyedWrite<Earlier, Result>(spec: KeyedWrite<Earlier, Result>): Promise<Result> {
  const { key } = spec;
  if (key !== null && spec.replayFirst) {
    const earlier = await spec.replay();
    if (earlier !== null) return spec.found(earlier, false);
  }
  try {
    return await spec.write();
  } catch (error) {
    if (error instanceof OutcomeUnknownError && key !== null) {
      const made = await orNull(spec.replay);
      if (made === null) throw error;
      return spec.found(made, true);
    }
    if (key !== null && spec.isTwin(error)) {
      const twin = await spec.replay();
      if (twin !== null) return spec.found(twin, false);
    }
    return spec.refuse(error);
  }
}
