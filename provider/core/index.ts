export * from "./errors.js";
export * from "./address.js";
export * from "./range.js";
export * from "./schemas.js";
export * from "./subnetLayout.js";
export * from "./types.js";
export { randomBelow } from "./randomChoice.js";
export { redact } from "./redact.js";
export { UnderlyingError } from "./underlyingError.js";
