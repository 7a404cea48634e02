/**
 * children/: child prefixes carved from a parent subnet. Choosing a block (first-fit, best-fit,
 * specific), giving it back, the parent's rules and guards (childrenOnly, addresses held by a
 * child), and listing a parent's children.
 */
export { listChildren } from "./childReads.js";
