import type { PendingOperation } from "./checkpoint.js";

/**
 * What an `up` says about the pending operations an interrupted run left (deployment_executor.go,
 * `printPendingOperationsWarning`, worded as there). Only outside preview. The operations are not
 * acted on: pending creates stay in every later snapshot (pkg/backend/snapshot.go, `snap`: "we don't
 * want to clear pending CREATE operations because these must require user intervention") until
 * `pulumi refresh` resolves them; other kinds are dropped by the next snapshot written.
 */
export function pendingOperationsWarning(pending: readonly PendingOperation[]): string {
  const list = pending.map((op) => `  * ${op.resource.urn}, interrupted while ${op.type}\n`).join("");
  return (
    `Attempting to deploy or update resources with ${pending.length} pending operations from previous deployment.\n` +
    list +
    "These resources are in an unknown state because the Pulumi CLI was interrupted while waiting for changes to these resources to complete. " +
    "You should confirm whether or not the operations listed completed successfully by checking the state of the appropriate provider. " +
    "For example, if you are using AWS, you can confirm using the AWS Console.\n\n" +
    "Once you have confirmed the status of the interrupted operations, you can repair your stack using `pulumi refresh` which will refresh the state " +
    "from the provider you are using and clear the pending operations if there are any.\n\n" +
    "Note that `pulumi refresh` will need to be run interactively to clear pending CREATE operations."
  );
}

/** snapshot.go: a new snapshot carries the base snapshot's pending creates, nothing else of it. */
export function carriedPending(base: readonly PendingOperation[] | undefined): PendingOperation[] {
  return (base ?? []).filter((op) => op.type === "creating");
}
