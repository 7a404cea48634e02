import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * `__provider` texts that earlier builds of sdk/implementation.ts serialized, byte for byte as they sit in
 * users' state (the SDK host runs the STORED text for Read and Delete). Captured by building that
 * commit's sdk/implementation.ts and taking IpAllocation's text from harness/serializedProviders.ts; a
 * Subnet's differs only in the kind literal.
 */
export const EARLIER_PROVIDER_TEXTS = {
  /** Location-independent: every method serialized, the package resolved on every call (3,625 characters). */
  df43b4e: "every method serialized, resolved per call",
  /** The package loaded once per host and kept on `Symbol.for("pulumi-ipam/dynamic")` (3,539 characters). */
  "4509ac0": "every method serialized, loaded once per host",
  /** One function, configure, which makes the six methods itself (1,897 characters). */
  e7bb745: "configure makes the methods (1,897 characters)",
} as const;

export type EarlierRelease = keyof typeof EARLIER_PROVIDER_TEXTS;

export function earlierProviderText(release: EarlierRelease, kind: "subnet" | "allocation"): string {
  const text = readFileSync(join(import.meta.dirname, "earlierProviderTexts", `${release}.txt`), "utf8");
  return kind === "allocation" ? text : text.replaceAll('kind: "allocation"', 'kind: "subnet"');
}
