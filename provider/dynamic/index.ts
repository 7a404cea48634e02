/**
 * What the serialized SDK providers load inside the Pulumi host: plain-JSON in, plain-JSON out.
 * Never imported by user programs directly (the SDK requires it by absolute path at call time).
 */
export { configureConnection } from "./connection.js";
export * as subnet from "./subnetProvider.js";
export * as allocation from "./allocationProvider.js";
