import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

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
}

/** An operation the engine started and had not finished when the checkpoint was last written. */
export interface PendingOperation {
  resource: ResourceState;
  type: "creating" | "updating" | "deleting" | "reading";
}

/** apitype.CheckpointV3 / DeploymentV3, as the DIY (file) backend stores it. */
export interface Checkpoint {
  version: 3;
  checkpoint: {
    stack: string;
    latest: { manifest: { time: string; version: string }; resources: ResourceState[]; pending_operations?: PendingOperation[] };
  };
}

/**
 * Where the DIY backend keeps a stack: `<backendDir>/.pulumi/stacks/<project>/<stack>.json`
 * (pkg/backend/diy/backend.go, `stackPath`). A StackReference "org/project/stack" reads the same path.
 */
export function checkpointPath(backendDir: string, project: string, stack: string): string {
  return join(backendDir, ".pulumi", "stacks", project, `${stack}.json`);
}

export async function readCheckpoint(file: string): Promise<Checkpoint | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Checkpoint;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Write atomically (a crash never leaves half a file), as the backend's snapshot persister does. */
export async function writeCheckpoint(file: string, stack: string, resources: ResourceState[], pending: PendingOperation[]): Promise<void> {
  const body: Checkpoint = {
    version: 3,
    checkpoint: {
      stack,
      latest: {
        manifest: { time: new Date().toISOString(), version: "ipam-harness" },
        resources,
        ...(pending.length > 0 ? { pending_operations: pending } : {}),
      },
    },
  };
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(body, null, 2));
  await rename(tmp, file);
}

/** The root Stack resource's outputs: what `pulumi stack output` and StackReferences see. */
export function stackOutputs(resources: readonly ResourceState[]): Props {
  return resources.find((r) => r.type === "pulumi:pulumi:Stack")?.outputs ?? {};
}
