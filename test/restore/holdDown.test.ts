import { expect, it } from "vitest";
import { runCli } from "../helpers/cliRunner.js";
import { useTestIpamWithAdmin } from "../helpers/openTestIpam.js";

/**
 * Issue 23, hold-down: with releaseHoldSeconds a released address is not handed out by next-free,
 * random or bulk picks until its hold expires. Time moves on the database's clock: the test sets
 * the hold's held_until into the past instead of sleeping.
 */
const t = useTestIpamWithAdmin("hold23");

const expire = (address: string) => t.admin.query("UPDATE ipam.held_address SET held_until = now() - interval '1 second' WHERE address = $1::inet", [address]);
const take = async (subnetId: string, extra: Record<string, unknown> = {}) => (await t.ipam.allocate({ subnetId, owner: "stack-b/vip", ...extra })).allocation;

it("a released address stays out of next-free, random and bulk picks for 300 s, then comes back", async () => {
  // 10.23.0.1-14 allocatable; gateway none.
  const subnet = await t.ipam.createSubnet({ cidr: "10.23.0.0/28", releaseHoldSeconds: 300 });
  expect(subnet.releaseHoldSeconds).toBe(300);
  const first = await Promise.all([1, 2, 3].map(() => t.ipam.allocate({ subnetId: subnet.id, owner: "stack-a/host" })));
  const released = first[1]!.allocation;
  expect(released.addresses).toEqual(["10.23.0.2"]);
  await t.ipam.release(released.id);

  // Next-free skips it.
  expect((await take(subnet.id)).addresses).toEqual(["10.23.0.4"]);
  // Everything else taken: only the held address is left, and nothing hands it out.
  await take(subnet.id, { count: 10 });
  for (const request of [{}, { strategy: "random" }, { count: 1, strategy: "random" }, { count: 2 }]) {
    await expect(take(subnet.id, request)).rejects.toMatchObject({ code: "SUBNET_EXHAUSTED" });
  }
  // Another owner may not take it by name either; the hold says how long is left.
  await expect(take(subnet.id, { address: "10.23.0.2" })).rejects.toMatchObject({ code: "ADDRESS_HELD", message: expect.stringMatching(/10\.23\.0\.2.*held.*\d+ s/) });
  const report = await t.ipam.usageReport(subnet.id);
  expect(report.usage).toMatchObject({ held: "1", allocated: "13", free: "0" });
  expect(report.held).toEqual([expect.objectContaining({ address: "10.23.0.2", owner: "stack-a/host", allocationId: released.id })]);
  expect(report.held![0]!.secondsLeft).toBeGreaterThan(200);
  expect(report.held![0]!.secondsLeft).toBeLessThanOrEqual(300);

  await expire("10.23.0.2");
  expect((await take(subnet.id, { strategy: "random" })).addresses).toEqual(["10.23.0.2"]);
});

it("the owner that released an address may take it back by name; a subnet without a hold reuses at once", async () => {
  const held = await t.ipam.createSubnet({ cidr: "10.23.1.0/28", releaseHoldSeconds: 300 });
  const mine = (await t.ipam.allocate({ subnetId: held.id, owner: "stack-a/db", address: "10.23.1.9" })).allocation;
  await t.ipam.release(mine.id);
  expect((await t.ipam.allocate({ subnetId: held.id, owner: "stack-a/db", address: "10.23.1.9" })).allocation.addresses).toEqual(["10.23.1.9"]);

  const plain = await t.ipam.createSubnet({ cidr: "10.23.2.0/28" });
  const a = await take(plain.id);
  await t.ipam.release(a.id);
  expect((await take(plain.id)).addresses).toEqual(a.addresses);
});

it("shrinking an allocation holds the released addresses too; a layout change drops holds it makes unallocatable", async () => {
  const subnet = await t.ipam.createSubnet({ cidr: "10.23.3.0/28", releaseHoldSeconds: 60 });
  const bulk = await take(subnet.id, { count: 4 });
  const { released } = await t.ipam.resizeAllocation({ allocationId: bulk.id, count: 2 });
  expect(released).toEqual(["10.23.3.3", "10.23.3.4"]);
  expect((await take(subnet.id)).addresses).toEqual(["10.23.3.5"]);
  await t.ipam.updateSubnet(subnet.id, { reserved: ["10.23.3.3"] });
  const { rows } = await t.admin.query("SELECT host(address) AS address FROM ipam.held_address h JOIN ipam.subnet s ON s.id = h.subnet_id WHERE s.id = $1 ORDER BY 1", [Number(subnet.id)]);
  expect(rows.map((row) => row.address)).toEqual(["10.23.3.4"]);
  // The free space rebuilt for the new layout still leaves the held address out.
  expect((await take(subnet.id)).addresses).toEqual(["10.23.3.6"]);
  await t.admin.query("UPDATE ipam.held_address SET held_until = now() - interval '1 second' WHERE subnet_id = $1", [Number(subnet.id)]);
  expect((await take(subnet.id)).addresses).toEqual(["10.23.3.4"]);
});

it("ipam shows held addresses with the time left: subnet create --release-hold, subnet show, usage", async () => {
  const cli = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: t.db.url });
  const created = JSON.parse((await cli(["subnet", "create", "10.23.4.0/28", "--release-hold", "300", "--json"])).stdout);
  expect(created.releaseHoldSeconds).toBe(300);
  const a = (await t.ipam.allocate({ subnetId: created.id, owner: "stack-a/web" })).allocation;
  await t.ipam.release(a.id);
  const shown = await cli(["subnet", "show", created.id]);
  expect(shown.stdout).toMatch(/release hold[\s│]+300 s/);
  expect(shown.stdout).toMatch(/1 held after release/);
  expect(shown.stdout).toMatch(new RegExp(`10\\.23\\.4\\.1[\\s│]+held[\\s│]+\\d+ s[\\s│]+stack-a/web[\\s│]+${a.id}`));
  const usage = await cli(["usage", created.id]);
  expect(usage.stdout).toMatch(/Held after release/);
  expect(usage.stdout).toMatch(/10\.23\.4\.1[\s│]+held, \d+ s left[\s│]+stack-a\/web/);
});
