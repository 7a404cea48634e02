import type { SubnetMapData } from "../../../store/Ipam.js";
import { MAP_COLOURS, subnetMapPicture, type MapPictureCell } from "../../subnetMapPicture.js";
import { html, type Html } from "./html.js";

/**
 * The picture `ipam map` writes, drawn inline so each cell is a link: an allocated cell opens the
 * allocation holding its first held address, a child subnet's cell opens the child.
 */
export function addressMap(data: SubnetMapData): Html {
  const picture = subnetMapPicture(data);
  const size = picture.cellSize;
  const subnetId = data.subnet.id;
  const cell = (c: MapPictureCell) => {
    const shape = html`<rect x="${c.x}" y="${c.y}" width="${size}" height="${size}" fill="${c.fill}" ${c.flagged ? html`stroke="${MAP_COLOURS.outsidePoolFlag}" stroke-width="2"` : ""} data-first="${c.first}"><title>${c.title}</title></rect>${
      c.gatewayMarker ? html`<rect x="${c.x + 5}" y="${c.y + 5}" width="6" height="6" fill="${MAP_COLOURS.gateway}"/>` : ""
    }`;
    if (c.child !== undefined) return html`<a href="/subnets/${c.child}" data-child="${c.child}">${shape}</a>`;
    if (c.held) return html`<a href="/subnets/${subnetId}/cells/${c.first}/${c.last}" data-held="${c.first}">${shape}</a>`;
    return shape;
  };
  return html`<svg class="map" xmlns="http://www.w3.org/2000/svg" width="${picture.width}" height="${picture.height}" viewBox="0 0 ${picture.width} ${picture.height}" role="img" aria-label="address map of ${data.subnet.cidr}">
<rect width="100%" height="100%" fill="${MAP_COLOURS.background}"/>
<text x="16" y="26" class="title">${picture.title}</text>
<text x="16" y="46">${picture.summary}</text>
<text x="16" y="62">${picture.cellNote}</text>
${picture.rowLabels.map((label) => html`<text x="${label.x}" y="${label.y}" text-anchor="end">${label.text}</text>`)}
${picture.cells.map(cell)}
${picture.legend.map(
  (entry) =>
    html`<rect x="${entry.x}" y="${entry.y}" width="14" height="14" fill="${entry.fill}" stroke="${entry.outline ? MAP_COLOURS.outsidePoolFlag : "#6b7280"}" stroke-width="${entry.outline ? 2 : 0.5}"/><text x="${entry.x + 22}" y="${entry.y + 11}">${entry.text}</text>`,
)}
</svg>`;
}
