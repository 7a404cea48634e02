/**
 * What the serialized SDK providers load inside the Pulumi host: plain-JSON in, plain-JSON out.
 * Never imported by user programs directly (the SDK's `__provider` text resolves it by package name
 * at call time). Every export here is called by texts already stored in users' state: `install` by
 * this release's, `configureConnection` and `subnet`/`allocation` (`remove` for delete) by earlier ones.
 */
export { configureConnection } from "./connection.js";
export { install } from "./install.js";
export * as subnet from "./subnetProvider.js";
export * as allocation from "./allocationProvider.js";
