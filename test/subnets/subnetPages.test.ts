import { beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../provider/core/errors.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

// Issue 14 part 3: subnets and their usage in keyset pages (cursor: the last subnet's id), in the
// order listSubnets gives, each page read at one moment.
const source = useTestIpam("subnetpages");

beforeAll(async () => {
  const { ipam } = source;
  const parent = await ipam.createSubnet({ cidr: "10.70.0.0/16", namespace: "b", childrenOnly: true });
  const child = await ipam.createSubnet({ parentId: parent.id, prefixLength: 24 });
  const web = await ipam.createSubnet({ cidr: "10.71.0.0/24", namespace: "a", allocationPools: [{ start: "10.71.0.10", end: "10.71.0.20" }] });
  await ipam.createSubnet({ cidr: "2001:db8:70::/64", namespace: "a" });
  await ipam.createSubnet({ cidr: "10.72.0.0/28", namespace: "c" });
  await ipam.createSubnet({ cidr: "10.73.0.0/28", namespace: "a" });
  await ipam.allocate({ subnetId: web.id, owner: "o1", count: 3 });
  await ipam.allocate({ subnetId: web.id, owner: "o2", address: "10.71.0.200" });
  await ipam.allocate({ subnetId: child.id, owner: "o1", count: 2 });
});

async function allPages<T>(read: (after: string | undefined) => Promise<{ items: T[]; next: string | null }>): Promise<T[]> {
  const items: T[] = [];
  for (let after: string | undefined; ; ) {
    const page = await read(after);
    items.push(...page.items);
    if (page.next === null) return items;
    after = page.next;
  }
}

const cursor = (after: string | undefined) => ({ limit: 2, ...(after === undefined ? {} : { after }) });

describe("listSubnetPage and usagePage", () => {
  it.each([undefined, "a"])("pages through listSubnets (namespace %s) in the same order", async (namespace) => {
    const filter = namespace === undefined ? {} : { namespace };
    const paged = await allPages(async (after) => {
      const page = await source.ipam.listSubnetPage(filter, cursor(after));
      return { items: page.subnets, next: page.next };
    });
    expect(paged).toEqual(await source.ipam.listSubnets(filter));
  });

  it.each([undefined, "a"])("usagePage (namespace %s) pages through each subnet's usageReport", async (namespace) => {
    const filter = namespace === undefined ? {} : { namespace };
    const paged = await allPages(async (after) => {
      const page = await source.ipam.usagePage(filter, cursor(after));
      return { items: page.reports, next: page.next };
    });
    const expected = [];
    for (const subnet of await source.ipam.listSubnets(filter)) expected.push(await source.ipam.usageReport(subnet.id));
    expect(paged).toEqual(expected);
    // In one batch, each subnet's own pools decide what is outside: only web's .200 is.
    const outside = Object.fromEntries(paged.map((report) => [report.subnet.cidr, [report.usage.allocated, report.usage.outsidePool]]));
    expect(outside["10.71.0.0/24"]).toEqual(["4", "1"]);
    for (const [cidr, counts] of Object.entries(outside)) if (cidr !== "10.71.0.0/24") expect(counts[1], cidr).toBe("0");
    if (namespace === undefined) expect(outside["10.70.0.0/24"]).toEqual(["2", "0"]);
  });

  it("refuses a cursor naming a subnet that no longer exists, and a bad limit, naming the field", async () => {
    const gone = await source.ipam.createSubnet({ cidr: "10.79.0.0/24", namespace: "a" });
    await source.ipam.deleteSubnet(gone.id);
    await expect(source.ipam.listSubnetPage({}, { after: gone.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(source.ipam.usagePage({}, { after: gone.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(source.ipam.listSubnetPage({}, { limit: 0 })).rejects.toThrow(/limit/);
  });
});

describe("a wide tree cut at `limit`", () => {
  it("shows the first `limit` subnets in tree order, as the whole tree orders them, and says it was cut", async () => {
    const { ipam } = source;
    const root = await ipam.createSubnet({ cidr: "10.80.0.0/16", namespace: "wide", childrenOnly: true });
    for (let i = 0; i < 5; i += 1) {
      const child = await ipam.createSubnet({ parentId: root.id, prefixLength: 20, childrenOnly: i % 2 === 0 });
      if (i % 2 === 0) for (let j = 0; j < 3; j += 1) await ipam.createSubnet({ parentId: child.id, prefixLength: 24 });
    }
    const whole = await ipam.usageTreeReport(root.id);
    expect(whole).toMatchObject({ truncated: false });
    const order = whole.reports.map((report) => [report.subnet.cidr, report.depth]);
    expect(order).toHaveLength(1 + 5 + 9);
    for (const limit of [1, 2, 4, 6, 14]) {
      const cut = await ipam.usageTreeReport(root.id, { limit });
      expect(cut.reports.map((report) => [report.subnet.cidr, report.depth]), `limit ${limit}`).toEqual(order.slice(0, limit));
      expect(cut.truncatedReason, `limit ${limit}`).toContain(`more than ${limit} subnets`);
    }
    expect((await ipam.usageTreeReport(root.id, { limit: 15 })).truncated).toBe(false);
  });
});
