import { DatabaseMismatchError } from "../core/errors.js";
import type { Ipam } from "../store/Ipam.js";
import { databaseSource, identityOf, movedFrom, type DatabaseSource } from "./connection.js";
import { isGone } from "./resourceIdentity.js";
import type { Props } from "./wire.js";
import { HIDDEN_KEYS } from "../core/resourceContract.js";

/**
 * Hidden output: the identity (installation id, migration 0006) of the database that holds the
 * resource. Read, Update and Delete refuse a database with another identity (docs/identity.md).
 */
export const DATABASE = HIDDEN_KEYS.database.key;

export function recordedIdentity(props: Props): string | undefined {
  const value = props[DATABASE];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Before a resource is read, updated or deleted: the database reached now must be the one its state
 * names, or one whose data `ipam:databaseMovedFrom` says moved here. State written before identities
 * existed names none; it adopts the current identity on its next read or update (the caller then
 * checks that the row under its id is the one it made: see `notTheRowItMade`).
 * @returns the current identity, to record in the outputs
 * @throws DatabaseMismatchError naming both identities and what to do (never the URL)
 */
export async function assertSameDatabase(db: Ipam, props: Props): Promise<string> {
  const current = await identityOf(db);
  const recorded = recordedIdentity(props);
  if (recorded === undefined || recorded === current || movedFrom().includes(recorded)) return current;
  throw new DatabaseMismatchError(
    recorded,
    current,
    `this resource is held by IPAM database ${recorded}, but ${sourceText(databaseSource())} reaches IPAM database ${current}; nothing was read or changed in either. ` +
      `Point the stack at the database that holds it (pulumi config set --secret ipam:databaseUrl <its URL>). ` +
      `If its data moved to ${current} on purpose, accept that once: pulumi config set ipam:databaseMovedFrom ${recorded} (docs/identity.md)`,
  );
}

/**
 * State from before identities (no `__database`) is checked by what it recorded instead: a row
 * with its id that is not the one it made means another database.
 * @throws DatabaseMismatchError when `problem` is not null
 */
export async function assertLegacyRowMatches(db: Ipam, props: Props, what: string, problem: string | null): Promise<void> {
  if (problem === null || recordedIdentity(props) !== undefined) return;
  const current = await identityOf(db);
  throw new DatabaseMismatchError(
    null,
    current,
    `this resource's state was written before databases had identities, and the ${what} with its id in IPAM database ${current} (reached through ${sourceText(databaseSource())}) is not the one it made (${problem}); nothing was changed. ` +
      `Point the stack at the database that holds it: pulumi config set --secret ipam:databaseUrl <its URL>. ` +
      `If it was deleted outside Pulumi on purpose, remove it from the stack with pulumi state delete (docs/identity.md)`,
  );
}

/**
 * Pre-identity state only (no `__database`): load the row under the resource's id and refuse it
 * when `problem` says it is not the one the resource made. A missing or superseded row is left to
 * the call (refresh reports it gone, delete has nothing to do).
 * @throws DatabaseMismatchError when the row is another resource's
 */
export async function assertLegacyRow<T extends { claim: string | null }>(
  db: Ipam,
  props: Props,
  what: string,
  load: () => Promise<T>,
  problem: (row: T) => string | null,
): Promise<void> {
  if (props[DATABASE] !== undefined) return;
  const row = await load().catch((error: { code?: string }) => {
    if (error.code === "NOT_FOUND") return null;
    throw error;
  });
  if (row === null || isGone(row.claim, props)) return;
  await assertLegacyRowMatches(db, props, what, problem(row));
}

function sourceText(source: DatabaseSource | undefined): string {
  if (source === "embedded") return "the local embedded database (used because neither ipam:databaseUrl nor IPAM_DATABASE_URL is set)";
  return source ?? "the configured URL";
}

/**
 * How a `__provider` text names the package rather than a path: the copied loader resolves the
 * `pulumi-ipam/dynamic` entry, the installed package's text requires `pulumi-ipam/host/<kind>.cjs`
 * (host/lazyProvider.cjs).
 */
const NAMES_THE_PACKAGE = ['"pulumi-ipam/dynamic"', 'require("pulumi-ipam/host/'];

/** Resources whose state predates identities or names the provider by an absolute path: Diff asks for an Update, which rewrites both. */
export function needsStateUpgrade(olds: Props): boolean {
  const provider = olds.__provider;
  return recordedIdentity(olds) === undefined || (typeof provider === "string" && !NAMES_THE_PACKAGE.some((name) => provider.includes(name)));
}
