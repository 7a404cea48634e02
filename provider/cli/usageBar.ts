import { paint } from "./terminal.js";

/** used/total as a percentage with two decimals, exact for any size (IPv6 pools exceed 2^53). */
export function percent(used: bigint, total: bigint): string {
  if (total === 0n) return "-";
  const hundredths = (used * 10_000n) / total;
  if (hundredths === 0n && used > 0n) return "<0.01%";
  return `${hundredths / 100n}.${(hundredths % 100n).toString().padStart(2, "0")}%`;
}

/** A bar of `width` cells, green under 70%, yellow under 90%, red above (colour only on a terminal). */
export function usageBar(used: bigint, total: bigint, width = 20): string {
  const filled = total === 0n ? 0 : Number((used * BigInt(width) + total - 1n) / total);
  const cells = Math.min(width, filled);
  const bar = `${"█".repeat(cells)}${"░".repeat(width - cells)}`;
  const ratio = total === 0n ? 0 : Number((used * 100n) / total);
  const colour = ratio >= 90 ? "red" : ratio >= 70 ? "yellow" : "green";
  return `${paint(colour, bar)} ${percent(used, total).padStart(6)}`;
}
