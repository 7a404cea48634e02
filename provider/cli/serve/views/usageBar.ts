import { html, type Html } from "./html.js";

const WIDTH = 160;

/** Percent with two decimals, exact for IPv6 sizes. */
export function percentText(part: bigint, whole: bigint): string {
  if (whole === 0n) return "-";
  const hundredths = (part * 10_000n) / whole;
  if (hundredths === 0n && part > 0n) return "<0.01%";
  return `${hundredths / 100n}.${(hundredths % 100n).toString().padStart(2, "0")}%`;
}

function share(part: bigint, whole: bigint): number {
  return whole === 0n ? 0 : Number((part * BigInt(WIDTH)) / whole);
}

/**
 * Used / held / free of a pool as one bar, drawn in SVG with attributes only: a strict
 * Content-Security-Policy (no inline styles) still lets it render.
 */
export function usageBar(usedCount: bigint, held: bigint, pool: bigint): Html {
  const used = share(usedCount, pool);
  const heldWidth = share(held, pool);
  const level = pool === 0n ? "low" : (usedCount + held) * 100n >= pool * 90n ? "high" : (usedCount + held) * 100n >= pool * 70n ? "mid" : "low";
  const label = `used ${percentText(usedCount, pool)}, held ${held}, free ${pool - usedCount - held}`;
  return html`<svg class="bar" width="${WIDTH}" height="12" viewBox="0 0 ${WIDTH} 12" role="img" aria-label="${label}"><title>${label}</title><rect class="bar-free" width="${WIDTH}" height="12"/><rect class="bar-used ${level}" width="${used}" height="12"/><rect class="bar-held" x="${used}" width="${heldWidth}" height="12"/></svg>`;
}

/** A count as digits up to a trillion, beyond that (IPv6 pools) as a short power of ten with the exact value on hover. */
export function countText(count: bigint | string): Html {
  const text = String(count);
  if (text.length <= 12) return html`${text}`;
  return html`<abbr title="${text}">${text[0]}.${text.slice(1, 3)}e${text.length - 1}</abbr>`;
}
