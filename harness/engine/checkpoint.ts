import { copyFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Crypter } from "./secrets.js";

export type Props = Record<string, unknown>;

/**
 * One resource in the checkpoint, the fields of apitype.ResourceV3
 * (pulumi/pulumi sdk/go/common/apitype/core.go) that this engine uses.
 */
export interface ResourceState {
  urn: string;
  custom: boolean;
  /** Marked for deletion: the old half of a create-before-delete replacement, not yet deleted. */
  delete?: boolean;
  id?: string;
  type: string;
  inputs: Props;
  outputs: Props;
  parent?: string;
  dependencies?: string[];
  propertyDependencies?: Record<string, string[]>;
  /** Read with `get` (or a StackReference): the stack does not own it, so destroy only forgets it. */
  external?: boolean;
  ignoreChanges?: string[];
  replaceOnChanges?: string[];
  protect?: boolean;
  /** The delete only forgets it (step.go, DeleteStep.Apply). */
  retainOnDelete?: boolean;
  /** Its delete is skipped when this URN is deleted in the same run (step.go, isDeletedWith). */
  deletedWith?: string;
  /** Output keys the engine marks secret after every step (step_executor.go). */
  additionalSecretOutputs?: string[];
}

/** An operation the engine started and had not finished when the checkpoint was last written. */
export interface PendingOperation {
  resource: ResourceState;
  type: "creating" | "updating" | "deleting" | "reading" | "importing";
}

/** apitype.CheckpointV3 / DeploymentV3, as the DIY (file) backend stores it. */
export interface Checkpoint {
  version: 3;
  checkpoint: {
    stack: string;
    latest: {
      manifest: { time: string; version: string };
      /** The passphrase secrets manager's state (apitype.DeploymentV3 `secrets_providers`). */
      secrets_providers?: { type: "passphrase"; state: { salt: string } };
      resources: ResourceState[];
      pending_operations?: PendingOperation[];
    };
  };
}

/**
 * Where the DIY backend keeps a stack: `<backendDir>/.pulumi/stacks/<project>/<stack>.json`
 * (pkg/backend/diy/backend.go, `stackPath`). A StackReference "org/project/stack" reads the same path.
 */
export function checkpointPath(backendDir: string, project: string, stack: string): string {
  return join(backendDir, ".pulumi", "stacks", project, `${stack}.json`);
}

/**
 * The stack's passphrase (PULUMI_CONFIG_PASSPHRASE; the CLI also accepts an empty one). Secrets in a
 * checkpoint are ciphertext under it; in memory (what readCheckpoint returns) they are
 * `{ [SECRET_SIG]: SECRET_VALUE, value }`, as `pulumi stack export --show-secrets` would reveal them.
 */
export const passphraseOf = (env: NodeJS.ProcessEnv = process.env) => env.PULUMI_CONFIG_PASSPHRASE ?? "";
const crypters = new Map<string, Crypter>();

export async function readCheckpoint(file: string, passphrase = passphraseOf()): Promise<Checkpoint | undefined> {
  const stored = await readStored(file);
  if (stored === undefined) return undefined;
  const latest = stored.checkpoint.latest;
  if (latest.secrets_providers === undefined) return stored;
  const crypter = crypters.get(file) ?? Crypter.open(passphrase, latest.secrets_providers.state);
  crypters.set(file, crypter);
  latest.resources = latest.resources.map((r) => throughProperties(r, (props) => crypter.open(props)));
  if (latest.pending_operations !== undefined) latest.pending_operations = latest.pending_operations.map((op) => ({ ...op, resource: throughProperties(op.resource, (props) => crypter.open(props)) }));
  return stored;
}

/**
 * A resource with its property maps (inputs, outputs) passed through `convert`: the only fields that
 * can hold secrets, and the only ones deployment.go walks value by value (`SerializeResource` calls
 * `SerializeProperties` on them and copies the other fields as they are; `DeserializeResource` the same).
 */
function throughProperties(r: ResourceState, convert: (props: Props) => unknown): ResourceState {
  return { ...r, inputs: convert(r.inputs) as Props, outputs: convert(r.outputs) as Props };
}

/**
 * Write atomically (a crash never leaves half a file), as the backend's snapshot persister does,
 * every secret sealed (secrets.ts), after copying the file it replaces to `.bak` (pkg/backend/diy/
 * state.go, `saveCheckpoint` → `backupTarget`). The stack's salt is kept from the file it replaces. Minified, as
 * the DIY backend writes its state files since v3.238.0 (pkg/backend/diy/state.go,
 * `compactJSONMarshaler`, pulumi/pulumi#22245); it wrote them indented before.
 */
export async function writeCheckpoint(file: string, stack: string, resources: ResourceState[], pending: PendingOperation[], passphrase = passphraseOf()): Promise<void> {
  let crypter = crypters.get(file);
  if (crypter === undefined) {
    const salt = (await readStored(file))?.checkpoint.latest.secrets_providers?.state;
    crypter = salt === undefined ? Crypter.create(passphrase) : Crypter.open(passphrase, salt);
    crypters.set(file, crypter);
  }
  const body: Checkpoint = {
    version: 3,
    checkpoint: {
      stack,
      latest: {
        manifest: { time: new Date().toISOString(), version: "ipam-harness" },
        secrets_providers: { type: "passphrase", state: crypter.state },
        resources: resources.map((r) => throughProperties(r, (props) => crypter!.seal(props))),
        ...(pending.length > 0 ? { pending_operations: pending.map((op) => ({ ...op, resource: throughProperties(op.resource, (props) => crypter!.seal(props)) })) } : {}),
      },
    },
  };
  await mkdir(dirname(file), { recursive: true });
  // saveCheckpoint's backupTarget: the file being replaced is copied to <file>.bak first, every save.
  await copyFile(file, `${file}.bak`).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
  const tmp = `${file}.${process.pid}.${++writes}.tmp`;
  await writeFile(tmp, JSON.stringify(body));
  await rename(tmp, file);
}
let writes = 0;

async function readStored(file: string): Promise<Checkpoint | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Checkpoint;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The root Stack resource's outputs: what `pulumi stack output` and StackReferences see. */
export function stackOutputs(resources: readonly ResourceState[]): Props {
  return resources.find((r) => r.type === "pulumi:pulumi:Stack")?.outputs ?? {};
}
