import { describe, expect, it } from "vitest";
import { ALLOCATION_INPUTS } from "../../provider/dynamic/allocationProvider.js";
import { SUBNET_INPUTS } from "../../provider/dynamic/subnetProvider.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { createHostileFixture, hostileCases, type HostileCase, type HostileFixture } from "../helpers/hostileCases.js";
import { checkInvariants } from "../helpers/invariants.js";
import { ciHostEnv, useProviderHost } from "../helpers/providerTestContext.js";
import { urnOf, wireProblem, type Props } from "../../harness/providerHost.js";

let fixture: HostileFixture;
const context = useProviderHost("provhostile", { env: ciHostEnv(), prepare: async ({ direct }) => void (fixture = await createHostileFixture(direct)) });

type Replay = { readonly resource: "Subnet" | "IpAllocation"; readonly urn: string; readonly props: Props; readonly doing: string };

/**
 * A core case as the engine would send it: createSubnet input → Subnet inputs, allocate input →
 * IpAllocation inputs (the SDK sends the owner as the hidden __owner). A string says why it cannot be sent.
 */
function asResourceInputs(hostile: HostileCase): Replay | string {
  const [input] = hostile.args(fixture);
  if (hostile.method !== "createSubnet" && hostile.method !== "allocate") return "not a Subnet or IpAllocation input";
  if (input === null || typeof input !== "object" || Array.isArray(input)) return "resource inputs are always an object";
  const subnet = hostile.method === "createSubnet";
  const declared: readonly string[] = subnet ? SUBNET_INPUTS : [...ALLOCATION_INPUTS, "owner"];
  const undeclared = Object.keys(input).filter((key) => !declared.includes(key));
  if (undeclared.length > 0) return `the provider reads only its declared inputs, not ${undeclared.join(", ")}`;
  const { owner, ...rest } = input as Props;
  const props: Props = subnet ? { __provider: context.P.subnet, ...rest } : { __provider: context.P.allocation, __owner: owner, ...rest };
  const unsendable = wireProblem(props);
  if (unsendable !== null) return unsendable;
  return subnet
    ? { resource: "Subnet", urn: urnOf("ipam:Subnet", "hostile"), props, doing: "creating a subnet" }
    : { resource: "IpAllocation", urn: urnOf("ipam:IpAllocation", "hostile"), props, doing: "allocating" };
}

/** Cases Check lets through, and why; Create (below) refuses every one of them. */
const CHECK_CANNOT_SEE: Record<string, string> = {
  // Check never reads the database: only the stored subnet (bounds, gateway, reserved ranges) makes these invalid.
  "address outside the subnet": "needs the stored subnet",
  "the gateway": "needs the stored subnet",
  "the network address": "needs the stored subnet",
  "the broadcast address": "needs the stored subnet",
  "a reserved address": "needs the stored subnet",
  // __owner is hidden and always set by the SDK (project/stack/name); Check validates the rest with a stand-in.
  "empty owner": "Check validates a missing owner as a stand-in",
};

/** Cases the engine cannot send as they are, and why (everything else is replayed). */
const NOT_SENDABLE: Record<string, string> = {
  // google-protobuf drops a high surrogate that no low one follows (a lone low one survives).
  "description with an unpaired surrogate": "the host receives a different value",
  // The host rebuilds objects by assignment, so an own "__proto__" key does not arrive.
  "tag key __proto__": "the host receives a different value",
  "owner as an object": "a protobuf Struct cannot hold the value",
  "count as a bigint": "a protobuf Struct cannot hold the value",
  "unknown field": "the provider reads only its declared inputs, not evil",
  "input null": "resource inputs are always an object",
  "input a string": "resource inputs are always an object",
  "allocation input as an array": "resource inputs are always an object",
  "empty idempotency key": "the provider reads only its declared inputs, not idempotencyKey",
  "idempotency key of 257 characters": "the provider reads only its declared inputs, not idempotencyKey",
};

const all = () => hostileCases().filter((c) => c.method === "createSubnet" || c.method === "allocate");
const replayed = () =>
  all()
    .filter((c) => !(c.what in NOT_SENDABLE))
    .map((c) => ({ ...c, label: `${c.what} → ${c.field}` }));

/** The failure must name the field: property is its first segment, the reason starts with the full path. */
function namesField(failures: { property: string; reason: string }[], field: string): boolean {
  return failures.some((f) => f.property === field.split(".")[0] && (f.reason.startsWith(`${field}: `) || f.reason.startsWith(`${field}.`)));
}

describe("hostile input through the provider host (the core test's case list, as resource inputs)", () => {
  it("every createSubnet and allocate case is replayed, except the ones the engine cannot send", () => {
    // Computed, not assumed: a case is skipped only if it really cannot reach the provider as given.
    const reasons = Object.fromEntries(all().flatMap((c) => {
      const replay = asResourceInputs(c);
      return typeof replay === "string" ? [[c.what, replay]] : [];
    }));
    expect(reasons).toEqual(NOT_SENDABLE);
    expect(replayed().length).toBeGreaterThanOrEqual(60);
  });

  it.each(replayed())("Check: $label", async (hostile) => {
    const replay = asResourceInputs(hostile) as Replay;
    const before = await databaseFingerprint(context.admin);
    const { failures } = await context.host.check(replay.urn, {}, replay.props);
    if (hostile.what in CHECK_CANNOT_SEE) {
      expect(failures).toEqual([]);
    } else {
      expect(namesField(failures, hostile.field), JSON.stringify(failures)).toBe(true);
      expect(JSON.stringify(failures).length).toBeLessThan(2_000); // a 100,000-character input is not echoed back
    }
    expect(await databaseFingerprint(context.admin)).toEqual(before);
  });

  it.each(replayed())("Create (without Check): $label", async (hostile) => {
    const replay = asResourceInputs(hostile) as Replay;
    const before = await databaseFingerprint(context.admin);
    const outcome = await context.host.create(replay.urn, replay.props).then(
      (created) => ({ unexpectedSuccess: created }),
      (error: unknown) => error as Error,
    );
    expect(outcome).toBeInstanceOf(Error);
    const { message } = outcome as Error;
    expect(message).toMatch(new RegExp(`^2 UNKNOWN: ipam: ${replay.doing}: .*\\(INVALID_INPUT\\)$`, "s"));
    expect(message.includes(`${hostile.field}: `) || message.includes(`${hostile.field}.`), message).toBe(true);
    expect(message.length).toBeLessThan(2_000);
    expect(message).not.toMatch(/\p{Surrogate}/u);
    expect(await databaseFingerprint(context.admin)).toEqual(before);
  });

  it("the host survived every case: no crash, nothing printed, and it still allocates", async () => {
    expect(() => process.kill(context.host.pid, 0)).not.toThrow();
    expect(context.host.output().trim()).toMatch(/^\d+$/); // only the port it announced
    const created = await context.host.create(urnOf("ipam:IpAllocation", "after"), { __provider: context.P.allocation, __owner: context.P.ownerOf("after"), subnetId: fixture.subnetId });
    expect(created.properties.addresses).toEqual(["10.0.0.4"]);
    expect((await checkInvariants(context.db.url)).violations).toEqual([]);
  });
});

type Call = { readonly doing: string; readonly run: () => Promise<unknown> };

/**
 * The core's other cases, as the RPC that would carry them: updateSubnet → Subnet Update,
 * resizeAllocation and updateAllocation → IpAllocation Update, release → Delete, get* → Read
 * (a refresh). Ids come from the engine's state, so only strings can arrive.
 */
function asRpc(hostile: HostileCase): Call | string {
  const args = hostile.args(fixture);
  const net = urnOf("ipam:Subnet", "fixture");
  const web = urnOf("ipam:IpAllocation", "fixture");
  const subnetInputs: Props = { __provider: context.P.subnet, cidr: "10.0.0.0/24", gateway: "10.0.0.1", reserved: ["10.0.0.128/28"] };
  const allocInputs: Props = { __provider: context.P.allocation, __owner: "hostile/base", subnetId: fixture.subnetId };
  const heldBy: Record<string, string[]> = { [fixture.allocationId]: ["10.0.0.2", "10.0.0.3"], [fixture.specificId]: ["10.0.0.99"] };
  const allocOlds = (id: string): Props => ({ ...allocInputs, allocationId: id, addresses: heldBy[id] ?? [] });
  const sendable = (id: unknown, news: Props, call: (id: string) => Call): Call | string => {
    if (typeof id !== "string") return "ids are strings on the wire";
    return wireProblem(news) ?? call(id);
  };
  switch (hostile.method) {
    case "updateSubnet": {
      const [id, patch] = args;
      if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return "resource inputs are always an object";
      if ("cidr" in patch) return "a new cidr replaces the subnet: it is a Create";
      const news = { ...subnetInputs, ...patch };
      return sendable(id, news, (sid) => ({ doing: "updating a subnet", run: () => context.host.update(net, sid, { ...subnetInputs, subnetId: sid }, news) }));
    }
    case "resizeAllocation":
    case "updateAllocation": {
      const [{ allocationId, ...change }] = args as [Props];
      const olds = allocOlds(String(allocationId));
      const news = { ...allocInputs, count: (olds.addresses as string[]).length || 1, ...(olds.addresses as string[]).includes("10.0.0.99") ? { address: "10.0.0.99" } : {}, ...change };
      return sendable(allocationId, news, (aid) => ({ doing: "updating an allocation", run: () => context.host.update(web, aid, olds, news) }));
    }
    case "release":
      return sendable(args[0], allocInputs, (aid) => ({ doing: "releasing an allocation", run: () => context.host.delete(web, aid, allocOlds(aid)) }));
    case "getSubnet":
      return sendable(args[0], subnetInputs, (sid) => ({ doing: "reading a subnet", run: () => context.host.read(net, sid, subnetInputs, subnetInputs) }));
    case "getAllocation":
      return sendable(args[0], allocInputs, (aid) => ({ doing: "reading an allocation", run: () => context.host.read(web, aid, allocOlds(aid), allocInputs) }));
    default:
      return "no RPC takes this input";
  }
}

/** The non-create cases no RPC can carry as given, and why. */
const NO_RPC: Record<string, string> = {
  "update trying to change the CIDR": "a new cidr replaces the subnet: it is a Create",
  "update with null": "resource inputs are always an object",
  "release with a number": "ids are strings on the wire",
  "getAllocation with null": "ids are strings on the wire",
};
const LISTS_AND_LOOKUPS = ["usage", "whoHolds", "listSubnets", "listAllocations", "findAllocationByKey"];
const others = () => hostileCases().filter((c) => c.method !== "createSubnet" && c.method !== "allocate" && !LISTS_AND_LOOKUPS.includes(c.method));
const replayedOthers = () => others().filter((c) => !(c.what in NO_RPC));

describe("the core's other hostile cases through Update, Read and Delete", () => {
  it("every one an RPC can carry is replayed", () => {
    const reasons = Object.fromEntries(others().flatMap((c) => {
      const call = asRpc(c);
      return typeof call === "string" ? [[c.what, call]] : [];
    }));
    expect(reasons).toEqual(NO_RPC);
    expect(replayedOthers().length).toBeGreaterThanOrEqual(10);
  });

  it.each(replayedOthers())("$what → $field", async (hostile) => {
    const call = asRpc(hostile) as Call;
    const before = await databaseFingerprint(context.admin);
    const outcome = await call.run().then(
      (value) => ({ unexpectedSuccess: value }),
      (error: unknown) => error as Error,
    );
    expect(outcome).toBeInstanceOf(Error);
    const { message } = outcome as Error;
    expect(message).toMatch(new RegExp(`^2 UNKNOWN: ipam: ${call.doing}: .*\\(INVALID_INPUT\\)$`, "s"));
    expect(message.includes(`${hostile.field}: `) || message.includes(`${hostile.field}.`), message).toBe(true);
    expect(await databaseFingerprint(context.admin)).toEqual(before);
  });

  it("the fixture is intact and every invariant holds", async () => {
    const held = await context.admin.query<{ address: string }>("SELECT host(address) AS address FROM ipam.allocated_address ORDER BY address");
    expect(held.rows.map((row) => row.address)).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.99"]);
    expect((await checkInvariants(context.db.url)).violations).toEqual([]);
  });
});

