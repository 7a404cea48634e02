import { beforeAll, describe, expect, it } from "vitest";
import { displayJson } from "../../provider/core/displayText.js";
import type { SubnetUsageReport } from "../../provider/store/index.js";
import { subnetsAbove } from "../../provider/cli/capacityGate.js";
import { inTreeOrder } from "../../provider/cli/subnetTree.js";
import { namespaceTotals, renderUsage } from "../../provider/cli/usageView.js";
import { runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

const context = useTestIpam("cliusagestream");
const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: context.db.url, NO_COLOR: "1" });

/** What `ipam usage` printed before it streamed: every report held, put in tree order, rendered at once. */
async function heldAndOrdered(filter: { namespace?: string }) {
  const unordered: SubnetUsageReport[] = [];
  for (let after: string | null | undefined; after !== null; ) {
    const page = await context.ipam.usagePage(filter, { limit: 1000, ...(after === undefined ? {} : { after }) });
    unordered.push(...page.reports);
    after = page.next;
  }
  const reports = inTreeOrder(unordered);
  const gate = { failAbove: { percent: 0.01, subnets: subnetsAbove(reports, 1) } };
  return {
    gated: `${displayJson({ namespaces: namespaceTotals(reports), subnets: reports, truncated: false, truncatedReason: null, ...gate }, 2)}\n`,
    json: `${displayJson({ namespaces: namespaceTotals(reports), subnets: reports, truncated: false, truncatedReason: null }, 2)}\n`, text: `${renderUsage(reports)}\n` };
}

beforeAll(async () => {
  // Two namespaces, both IP versions, nesting three deep with children-only parents (their pools count
  // through their children) and a parent that hands out addresses beside its children; over 1,000
  // subnets so the streamed report spans pages, with children created after unrelated subnets (ids out of tree order).
  const core = context.ipam;
  const a = await core.createSubnet({ cidr: "10.90.0.0/16", namespace: "alpha", childrenOnly: true });
  const v6 = await core.createSubnet({ cidr: "2001:db8:90::/48", namespace: "alpha", childrenOnly: true, defaultPrefixLength: 64 });
  const b = await core.createSubnet({ cidr: "10.1.0.0/20", namespace: "beta", gateway: "10.1.0.1" });
  for (let i = 0; i < 1_020; i += 1) await core.createSubnet({ cidr: `10.${200 + (i >> 8)}.${i & 255}.0/28`, namespace: "beta" });
  const a1 = await core.createSubnet({ parentId: a.id, cidr: "10.90.4.0/22", childrenOnly: true });
  const a11 = await core.createSubnet({ parentId: a1.id, cidr: "10.90.5.0/24" });
  const a0 = await core.createSubnet({ parentId: a.id, cidr: "10.90.0.0/24" });
  await core.createSubnet({ parentId: v6.id });
  const b1 = await core.createSubnet({ parentId: b.id, cidr: "10.1.8.0/24" });
  await core.createSubnet({ parentId: b1.id, cidr: "10.1.8.128/26" });
  await core.allocate({ subnetId: a11.id, owner: "team-a11", count: 7 });
  await core.allocate({ subnetId: a0.id, owner: "team-a0", count: 3 });
  await core.allocate({ subnetId: b.id, owner: "team-b", count: 4 });
  await core.allocate({ subnetId: b1.id, owner: "team-b1", address: "10.1.8.5" });
  // An address outside the pools and addresses held after release: the tables that follow Owners.
  const pooled = await core.createSubnet({ cidr: "10.70.0.0/26", namespace: "beta", allocationPools: [{ start: "10.70.0.10", end: "10.70.0.49" }] });
  await core.allocate({ subnetId: pooled.id, owner: "outsider", address: "10.70.0.52" });
  const holding = await core.createSubnet({ cidr: "10.71.0.0/28", namespace: "beta", releaseHoldSeconds: 80_000 });
  for (const owner of ["leaver-1", "leaver-2"]) await core.release((await core.allocate({ subnetId: holding.id, owner, count: 1 })).allocation.id);
}, 300_000);

/** Seconds left on a hold tick between two reads; the hold is long enough that the width stays. */
const steadyHolds = (text: string) => text.replace(/(held, \d+ s left|"secondsLeft": \d+)/g, (match) => match.replace(/\d+/, (digits) => "9".repeat(digits.length)));

describe("ipam usage streamed in the database's order (issue 25)", () => {
  it("prints exactly what holding every report and ordering them printed, as JSON and as text", async () => {
    for (const filter of [{}, { namespace: "alpha" }]) {
      const expected = await heldAndOrdered(filter);
      const args = filter.namespace === undefined ? [] : ["--namespace", filter.namespace];
      const json = await ipam(["usage", "--json", ...args]);
      expect(json.code).toBe(0);
      expect(steadyHolds(json.stdout)).toBe(steadyHolds(expected.json));
      const text = await ipam(["usage", ...args]);
      expect(text.code).toBe(0);
      expect(steadyHolds(text.stdout)).toBe(steadyHolds(expected.text));
    }
    // Every table of the text view is there: owners, the addresses outside the pools, the holds.
    const all = (await ipam(["usage"])).stdout;
    expect(all).toContain("10.70.0.52");
    expect(all).toMatch(/held, \d+ s left/);
    const parsed = JSON.parse((await ipam(["usage", "--json", "--namespace", "alpha"])).stdout);
    expect(parsed.subnets.map((s: { subnet: { cidr: string }; depth: number }) => `${s.depth} ${s.subnet.cidr}`)).toEqual([
      "0 10.90.0.0/16", "1 10.90.0.0/24", "1 10.90.4.0/22", "2 10.90.5.0/24", "0 2001:db8:90::/48", "1 2001:db8:90::/64",
    ]);
  });

  it("--fail-above: the same document with the subnets above the threshold last, and exit code 3", async () => {
    const expected = await heldAndOrdered({});
    const gated = await ipam(["usage", "--json", "--fail-above", "0.01"]);
    expect(gated.code).toBe(3);
    expect(steadyHolds(gated.stdout)).toBe(steadyHolds(expected.gated));
    expect(JSON.parse(gated.stdout).failAbove.subnets.length).toBeGreaterThan(0);
  });

  it("prints an empty namespace as before", async () => {
    const expected = await heldAndOrdered({ namespace: "nobody" });
    expect((await ipam(["usage", "--json", "--namespace", "nobody"])).stdout).toBe(expected.json);
    expect((await ipam(["usage", "--namespace", "nobody"])).stdout).toBe(expected.text);
  });

  it("--fail-above in the text view: the same text, and exit code 3", async () => {
    const expected = await heldAndOrdered({ namespace: "beta" });
    const gated = await ipam(["usage", "--namespace", "beta", "--fail-above", "0.01"]);
    expect(gated.code).toBe(3);
    expect(steadyHolds(gated.stdout)).toBe(steadyHolds(expected.text));
  });
});
