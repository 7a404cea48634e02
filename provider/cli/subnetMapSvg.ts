import { MAP_COLOURS, MAP_MARGIN, subnetMapPicture, type LegendEntry } from "./subnetMapPicture.js";
import type { SubnetMapData } from "../store/reports/subnetMapData.js";
import { escapeXml } from "./xmlText.js";

export { MAP_COLOURS, ownerColour } from "./subnetMapPicture.js";

/** `ipam map`'s SVG file: the picture of subnetMapPicture with every piece of user text escaped. */
export function renderSubnetMap(data: SubnetMapData): string {
  const picture = subnetMapPicture(data);
  const size = picture.cellSize;
  const parts: string[] = [];
  for (const label of picture.rowLabels) parts.push(`<text x="${label.x}" y="${label.y}" text-anchor="end" class="label">${escapeXml(label.text)}</text>`);
  for (const cell of picture.cells) {
    const stroke = cell.flagged ? ` stroke="${MAP_COLOURS.outsidePoolFlag}" stroke-width="2"` : "";
    const child = cell.child === undefined ? "" : ` data-child="${escapeXml(cell.child)}"`;
    const hold = cell.onHold === true ? ` data-hold="held"` : "";
    parts.push(
      `<rect x="${cell.x}" y="${cell.y}" width="${size}" height="${size}" fill="${cell.fill}"${stroke} data-first="${escapeXml(cell.first)}"${child}${hold}><title>${escapeXml(cell.title)}</title></rect>`,
    );
    if (cell.gatewayMarker) parts.push(`<rect x="${cell.x + 5}" y="${cell.y + 5}" width="6" height="6" fill="${MAP_COLOURS.gateway}"/>`);
  }
  parts.push(...picture.legend.map((entry) => legendItem(entry.x, entry.y, entry)));
  const { width, height } = picture;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<style>text{font-family:ui-monospace,Menlo,Consolas,monospace;fill:${MAP_COLOURS.text}}.title{font-size:16px;font-weight:bold}.sub,.label,.legend{font-size:11px}</style>`,
    `<rect width="100%" height="100%" fill="${MAP_COLOURS.background}"/>`,
    `<text x="${MAP_MARGIN}" y="26" class="title">${escapeXml(picture.title)}</text>`,
    `<text x="${MAP_MARGIN}" y="46" class="sub">${escapeXml(picture.summary)}</text>`,
    `<text x="${MAP_MARGIN}" y="62" class="sub">${escapeXml(picture.cellNote)}</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

function legendItem(x: number, y: number, entry: LegendEntry): string {
  const stroke = entry.outline ? ` stroke="${MAP_COLOURS.outsidePoolFlag}" stroke-width="2"` : ` stroke="#6b7280" stroke-width="0.5"`;
  const data = entry.owner !== undefined ? ` data-owner="${escapeXml(entry.owner)}"` : entry.kind !== undefined ? ` data-legend="${escapeXml(entry.kind)}"` : "";
  return `<rect x="${x}" y="${y}" width="14" height="14" fill="${entry.fill}"${stroke}${data}/><text x="${x + 22}" y="${y + 11}" class="legend">${escapeXml(entry.text)}</text>`;
}
