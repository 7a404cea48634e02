import { formatAddress } from "../core/address.js";
import { rangesOverlap, type ValueRange } from "../core/range.js";
import { parseSubnetLayout, usableRange, type SubnetLayout } from "../core/subnetLayout.js";
import type { MapChildBlock, MapHeldBlock, MapHeldCell, SubnetMapData } from "../store/reports/subnetMapData.js";

/** Fixed colours: the test reads them back from rendered pixels. */
export const MAP_COLOURS = {
  background: "#ffffff",
  free: "#dbeafe",
  outsidePools: "#f3f4f6",
  reserved: "#9ca3af",
  gateway: "#111827",
  unusable: "#d1d5db",
  otherOwners: "#78716c",
  /** Addresses handed to a child subnet: the parent's, but no longer its to allocate. */
  childSubnet: "#7c3aed",
  /** Released and held back (hold-down): not free yet, not anyone's either. */
  heldDown: "#fde047",
  outsidePoolFlag: "#dc2626",
  text: "#111827",
} as const;

/**
 * One colour per holder for the 24 largest (Tableau 10 without its grey first, then lighter
 * Tableau 20 tones); smaller holders share `otherOwners`, named in the legend as a count.
 */
const OWNER_PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
  "#17becf", "#bcbd22", "#d37295", "#499894", "#b6992d", "#8cd17d", "#f1ce63", "#86bcb6", "#ff9d9a",
  "#fabfd2", "#d4a6c8", "#d7b5a6", "#ffbe7d", "#a0cbe8", "#9d7660",
];
const LEGEND_OWNERS = OWNER_PALETTE.length;
const CELL = 16;
const PITCH = 18;
export const MAP_MARGIN = 16;
const MARGIN = MAP_MARGIN;
const GRID_TOP = 72;
const MAX_COLUMNS = 32;

export function ownerColour(rank: number): string {
  return OWNER_PALETTE[rank] ?? MAP_COLOURS.otherOwners;
}

interface CellView {
  readonly fill: string;
  readonly title: string;
  readonly gatewayMarker: boolean;
  readonly flagged: boolean;
  /** The lowest child subnet in the cell, if any. */
  readonly child?: string;
  /** Shown as held after release (hold-down). */
  readonly onHold?: boolean;
}

/** One cell of the grid where it is drawn, what it shows and which addresses it covers. */
export interface MapPictureCell {
  readonly x: number;
  readonly y: number;
  readonly fill: string;
  readonly title: string;
  readonly flagged: boolean;
  readonly gatewayMarker: boolean;
  /** The cell's first and last address as text. */
  readonly first: string;
  readonly last: string;
  /** Some address of the cell is allocated. */
  readonly held: boolean;
  readonly child?: string;
  /** Painted as held after release (hold-down): released addresses, and none allocated. */
  readonly onHold?: boolean;
}

/** The address map as positioned shapes and text: drawn as an SVG file (`ipam map`) and in the web view (`ipam serve`). */
export interface MapPicture {
  readonly width: number;
  readonly height: number;
  readonly cellSize: number;
  readonly title: string;
  readonly summary: string;
  readonly cellNote: string;
  readonly rowLabels: readonly { readonly x: number; readonly y: number; readonly text: string }[];
  readonly cells: readonly MapPictureCell[];
  readonly legend: readonly (LegendEntry & { readonly x: number; readonly y: number })[];
}

/**
 * The subnet as a grid: one cell per address (or per block of 2^cellBits addresses for large
 * subnets), coloured by owner, with pools, gateway, reserved and unusable addresses marked and a
 * legend. Text here is raw user text: whoever draws it escapes it.
 */
export function subnetMapPicture(data: SubnetMapData): MapPicture {
  const { subnet, grid } = data;
  const layout = parseSubnetLayout(subnet.cidr, { allocationPools: subnet.allocationPoolsExplicit ? subnet.allocationPools : null, gateway: subnet.gateway, reserved: subnet.reserved });
  const version = layout.cidr.version;
  const cellSize = 1n << BigInt(grid.cellBits);
  const columns = Math.min(grid.cellCount, MAX_COLUMNS);
  const rows = grid.cellCount / columns;
  const labelWidth = formatAddress(version, layout.cidr.last).length * 7 + 14;
  const gridLeft = MARGIN + labelWidth;
  const colours = new Map(data.owners.slice(0, LEGEND_OWNERS).map((owner, rank) => [owner.owner, ownerColour(rank)]));
  const holdings = new Map(data.cells.map((cell) => [cell.cell, cell]));
  const childCells = cellsOf(data.childBlocks);
  const holds = new Map(data.heldCells.map((cell) => [cell.cell, cell]));
  const heldBlockCells = cellsOf(data.heldBlocks);
  const rowLabels: MapPicture["rowLabels"][number][] = [];
  const cells: MapPictureCell[] = [];
  for (let row = 0; row < rows; row += 1) {
    const y = GRID_TOP + row * PITCH;
    rowLabels.push({ x: gridLeft - 8, y: y + 12, text: formatAddress(version, layout.cidr.first + BigInt(row * columns) * cellSize) });
    for (let column = 0; column < columns; column += 1) {
      const index = row * columns + column;
      const range = { first: layout.cidr.first + BigInt(index) * cellSize, last: layout.cidr.first + BigInt(index + 1) * cellSize - 1n };
      const block = childCells.get(index);
      const holding = holdings.get(index);
      const hold = holds.get(index);
      const heldBlock = heldBlockCells.get(index);
      const view =
        block !== undefined ? childCellView(layout, range, block, holding)
        : holding === undefined && heldBlock !== undefined ? heldBlockCellView(layout, range, heldBlock)
        : holding === undefined && hold !== undefined ? heldCellView(layout, range, hold)
        : cellView(layout, range, holding, colours, subnet.childrenOnly);
      cells.push({ ...view, x: gridLeft + column * PITCH, y, first: formatAddress(version, range.first), last: formatAddress(version, range.last), held: holding !== undefined });
    }
  }
  const legendTop = GRID_TOP + rows * PITCH + 24;
  const legend = legendEntries(data, colours, grid.cellBits).map((entry, i) => ({ ...entry, x: MARGIN, y: legendTop + i * 20 }));
  return {
    width: Math.max(gridLeft + columns * PITCH + MARGIN, 640),
    height: legendTop + legend.length * 20 + MARGIN,
    cellSize: CELL,
    title: `${subnet.cidr} — namespace ${subnet.namespace}${subnet.description ? ` — ${subnet.description}` : ""}`,
    summary: layoutSummary(layout),
    cellNote: cellSummary(grid.cellBits, columns, data),
    rowLabels,
    cells,
    legend,
  };
}

/** A cell's addresses as its title names them: one address, or first-last. */
function cellLabel(layout: SubnetLayout, range: ValueRange): string {
  const version = layout.cidr.version;
  return range.first === range.last ? formatAddress(version, range.first) : `${formatAddress(version, range.first)}-${formatAddress(version, range.last)}`;
}

function holdsGateway(layout: SubnetLayout, range: ValueRange): boolean {
  return layout.gateway !== null && layout.gateway.value >= range.first && layout.gateway.value <= range.last;
}

function cellView(
  layout: SubnetLayout,
  range: ValueRange,
  holding: SubnetMapData["cells"][number] | undefined,
  colours: ReadonlyMap<string, string>,
  childrenOnly: boolean,
): CellView {
  const single = range.first === range.last;
  const label = cellLabel(layout, range);
  const hasGateway = holdsGateway(layout, range);
  if (holding !== undefined) {
    const fill = colours.get(holding.owner) ?? MAP_COLOURS.otherOwners;
    const others = holding.owners > 1 ? ` and ${holding.owners - 1} other owner(s)` : "";
    const outside = holding.outsidePool !== "0" ? `; ${holding.outsidePool} outside the pools` : "";
    const title = single ? `${label}: ${holding.owner}${outside}` : `${label}: ${holding.allocated} allocated, ${holding.ownerAddresses} by ${holding.owner}${others}${outside}`;
    return { fill, title, gatewayMarker: hasGateway && !single, flagged: holding.outsidePool !== "0" };
  }
  if (single && hasGateway) return { fill: MAP_COLOURS.gateway, title: `${label}: gateway`, gatewayMarker: false, flagged: false };
  const [fill, what] = freeCellKind(layout, range, childrenOnly);
  return { fill, title: `${label}: ${what}${hasGateway ? " (gateway inside)" : ""}`, gatewayMarker: hasGateway, flagged: false };
}

/** A cell whose only taken addresses are released ones in hold-down: neither free nor anyone's. */
function heldCellView(layout: SubnetLayout, range: ValueRange, hold: MapHeldCell): CellView {
  const what = range.first === range.last ? `held after release, ${hold.secondsLeft} s left` : `${hold.held} held after release, the last for ${hold.secondsLeft} s more`;
  return { fill: MAP_COLOURS.heldDown, title: `${cellLabel(layout, range)}: ${what}`, gatewayMarker: holdsGateway(layout, range), flagged: false, onHold: true };
}

/**
 * A cell inside a child prefix held after its child's delete (and holding none of the parent's
 * allocations): not free for children or addresses until the hold ends.
 */
function heldBlockCellView(layout: SubnetLayout, range: ValueRange, block: MapHeldBlock): CellView {
  const title = `${cellLabel(layout, range)}: in child prefix ${block.cidr}, held since child subnet ${block.childId} was deleted, ${block.secondsLeft} s left`;
  return { fill: MAP_COLOURS.heldDown, title, gatewayMarker: holdsGateway(layout, range), flagged: false, onHold: true };
}

/** Each cell a block covers, with its block (the grid has at most 2^14 cells). */
function cellsOf<T extends { firstCell: number; lastCell: number }>(blocks: readonly T[]): Map<number, T> {
  const cells = new Map<number, T>();
  for (const block of blocks) for (let cell = block.firstCell; cell <= block.lastCell; cell += 1) cells.set(cell, block);
  return cells;
}

/**
 * A cell holding a child subnet is painted as the child's, even when the parent's own addresses
 * share it (a cell larger than the child): the title tells both.
 */
function childCellView(layout: SubnetLayout, range: ValueRange, block: MapChildBlock, holding: SubnetMapData["cells"][number] | undefined): CellView {
  const children = block.children === 1 ? `child subnet ${block.subnetId} (${block.cidr})` : `${block.children} child subnets (${block.addresses} addresses), the first ${block.subnetId} (${block.cidr})`;
  const own = holding === undefined ? "" : `; ${holding.allocated} allocated in the parent, ${holding.ownerAddresses} by ${holding.owner}`;
  return { fill: MAP_COLOURS.childSubnet, title: `${cellLabel(layout, range)}: ${children}${own}`, gatewayMarker: holdsGateway(layout, range), flagged: holding !== undefined && holding.outsidePool !== "0", child: block.subnetId };
}

/**
 * Free cells: allocatable beats reserved beats outside the pools beats network/broadcast. A
 * children-only subnet's pools are free for children only, never for addresses.
 */
function freeCellKind(layout: SubnetLayout, range: ValueRange, childrenOnly: boolean): [string, string] {
  if (layout.available.some((available) => rangesOverlap(available, range))) return [MAP_COLOURS.free, childrenOnly ? "free for child subnets (children only)" : "free (in a pool)"];
  if (layout.reserved.some((reserved) => rangesOverlap(reserved, range))) return [MAP_COLOURS.reserved, "reserved"];
  if (rangesOverlap(usableRange(layout.cidr), range)) return [MAP_COLOURS.outsidePools, "free, outside the pools (never handed out)"];
  return [MAP_COLOURS.unusable, "network or broadcast address (not usable)"];
}

function layoutSummary(layout: SubnetLayout): string {
  const pools = layout.pools.map((pool) => `${pool.start}-${pool.end}`);
  const reserved = layout.reserved.map((range) => range.text);
  const list = (items: string[]) => (items.length > 3 ? `${items.slice(0, 3).join(", ")}, … (${items.length})` : items.join(", "));
  return `pools ${list(pools)} · gateway ${layout.gateway?.text ?? "none"} · reserved ${reserved.length > 0 ? list(reserved) : "none"}`;
}

function cellSummary(cellBits: number, columns: number, data: SubnetMapData): string {
  const each = cellBits === 0 ? "one address per cell" : `each cell is 2^${cellBits} addresses, coloured by the owner holding most of it`;
  const children = childTotals(data.childBlocks);
  return `${each}, ${columns} per row · ${data.owners.length} owner(s)${children.count > 0 ? ` · ${children.count} child subnet(s)` : ""}`;
}

function childTotals(blocks: readonly MapChildBlock[]): { count: number; addresses: bigint } {
  return { count: blocks.reduce((sum, block) => sum + block.children, 0), addresses: blocks.reduce((sum, block) => sum + BigInt(block.addresses), 0n) };
}

export interface LegendEntry {
  readonly fill: string;
  readonly text: string;
  readonly owner?: string;
  readonly outline?: boolean;
  /** A fixed entry's name, for tools reading the SVG. */
  readonly kind?: string;
}

function legendEntries(data: SubnetMapData, colours: ReadonlyMap<string, string>, cellBits: number): LegendEntry[] {
  const fixed: LegendEntry[] = [
    { fill: MAP_COLOURS.free, text: data.subnet.childrenOnly ? "free, in a pool (for child subnets only)" : "free, in a pool" },
    { fill: MAP_COLOURS.outsidePools, text: "free, outside the pools" },
    { fill: MAP_COLOURS.gateway, text: cellBits === 0 ? "gateway" : "gateway (marker)" },
    { fill: MAP_COLOURS.reserved, text: "reserved" },
    { fill: MAP_COLOURS.unusable, text: "network / broadcast" },
    { fill: MAP_COLOURS.background, text: "allocated outside the pools (red outline)", outline: true },
  ];
  const children = childTotals(data.childBlocks);
  if (children.count > 0) {
    fixed.push({ fill: MAP_COLOURS.childSubnet, text: `child subnet — ${children.count} child subnet(s), ${children.addresses} address(es)`, kind: "child-subnet" });
  }
  const held = data.heldCells.reduce((sum, cell) => sum + BigInt(cell.held), 0n);
  const heldParts = [...(held > 0n ? [`${held} address(es)`] : []), ...(data.heldBlocks.length > 0 ? [`${data.heldBlocks.length} child prefix(es)`] : [])];
  if (heldParts.length > 0) fixed.push({ fill: MAP_COLOURS.heldDown, text: `held after release (hold-down) — ${heldParts.join(", ")}`, kind: "held" });
  const owners = data.owners.slice(0, LEGEND_OWNERS).map((owner) => ({
    fill: colours.get(owner.owner)!,
    text: `${owner.owner.length > 80 ? `${owner.owner.slice(0, 80)}…` : owner.owner} — ${owner.addresses} address(es) in ${owner.allocations} allocation(s)`,
    owner: owner.owner,
  }));
  const rest = data.owners.length - owners.length;
  return [...fixed, ...owners, ...(rest > 0 ? [{ fill: MAP_COLOURS.otherOwners, text: `${rest} other owner(s)` }] : [])];
}

