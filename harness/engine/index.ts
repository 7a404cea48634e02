/**
 * A modelled Pulumi engine: runs a real Pulumi program (examples/*, unchanged) with the real
 * @pulumi/pulumi Node.js runtime against a ResourceMonitor served here, turns its registrations
 * into steps as pulumi/pulumi's engine does, and executes them through the SDK's own
 * dynamic-provider host. State is a JSON checkpoint in a DIY-backend directory. docs/engine-harness.md.
 *
 *   const stack = await openStack({ programDir, stack: "dev", backendDir, config: { "ipam:databaseUrl": url } });
 *   await stack.preview();            // Step[]: { urn, type, name, op, replaces?, deleteBeforeReplace?, failures? }
 *   await stack.up({ replace: ["db"] });   // also target: [...], parallel: 1 (--parallel; default 4 per CPU)
 *   await stack.refresh();            // Step[] with op "refresh" (gone: true when it left the state; drift)
 *   await stack.refresh({ clearPendingCreates: true });
 *   await stack.destroy();
 *   await stack.outputs();            // the stack's exports
 *   await stack.state();              // the checkpoint's resources
 *   stack.messages();                 // warnings/errors the last preview or up logged
 *   stack.setProgram(await editedProgram(programDir, (src) => src.replace(...)));
 *   await stack.close();              // stops the provider host
 *
 * A failed preview/up throws DeploymentError (its `steps` show how far it got; a step's `failures`
 * are Check failures). `provideSdk` decides how the program's copy gets pulumi-ipam (default: links).
 */
export { openStack, DeploymentError, type Stack, type StackOptions, type UpOptions } from "./stack.js";
export type { RefreshOptions } from "./stateOperations.js";
export type { Step, Op } from "./deployment.js";
export type { ResourceState, Checkpoint, PendingOperation } from "./checkpoint.js";
export { checkpointPath, readCheckpoint } from "./checkpoint.js";
export { isSecret, stripSecrets, SECRET_SIG, SECRET_VALUE } from "./secrets.js";
export { defaultParallel } from "./workers.js";
export { editedProgram, installPackage, removeEditedPrograms, linkCheckout, workingCopy, repoRoot, type ProvideSdk } from "./program.js";
export { previewDigest, type PreviewDigest } from "./previewDigest.js";
