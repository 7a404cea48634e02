// One OS process of a storm: opens `connections` pooled connections, keeps them all open and busy
// until the parent sends "go" (the barrier), then runs one client per connection through a random
// mix of operations (at least a minimum count; then until a deadline or a maximum count), and
// reports what it saw.
import { randomInt } from "node:crypto";
import { IpamError } from "../../../dist/provider/core/errors.js";
import { Ipam } from "../../../dist/provider/store/index.js";

const config = JSON.parse(process.argv[2]);
const ipam = await Ipam.open({
  databaseUrl: config.databaseUrl,
  maxConnections: config.connections,
  migrate: false,
  lockTimeoutMs: config.lockTimeoutMs ?? 30_000,
  unsafeSkipLocking: config.unsafeSkipLocking === true,
});

// Keep every connection checked out now and then, so none idles out before the barrier opens.
const touchAll = () => Promise.all(Array.from({ length: config.connections }, (_, i) => ipam.getSubnet(config.subnets[i % config.subnets.length].id)));
await touchAll();
const keepAlive = setInterval(() => void touchAll().catch(() => undefined), 400);
process.send({ type: "ready" });
await new Promise((resolve) => process.once("message", resolve));
clearInterval(keepAlive);

// What a caller must expect under contention; anything else is reported as unexpected.
const EXPECTED = new Set(["ADDRESS_IN_USE", "SUBNET_EXHAUSTED"]);
const report = { ops: {}, errors: {}, unexpected: [], held: [], idempotent: [] };
const tally = (table, key) => (table[key] = (table[key] ?? 0) + 1);
const pick = (list) => list[randomInt(list.length)];
const deadline = Date.now() + config.durationMs;

const ALL_WEIGHTS = { next: 18, random: 14, specific: 14, bulk: 10, idempotent: 6, shrink: 8, grow: 6, release: 18, pools: 6 };
const WEIGHTS = Object.entries(ALL_WEIGHTS).filter(([kind]) => (config.kinds ?? Object.keys(ALL_WEIGHTS)).includes(kind));
const totalWeight = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
function chooseKind() {
  let roll = randomInt(totalWeight);
  for (const [kind, weight] of WEIGHTS) {
    if (roll < weight) return kind;
    roll -= weight;
  }
  throw new Error("unreachable");
}

async function client(index) {
  const owner = `storm/${config.label}/p${process.pid}/c${index}`;
  const held = new Map(); // allocation id -> { subnetId, addresses, specific }
  const growable = () => [...held.entries()].filter(([, a]) => !a.specific);
  const remember = (allocation, specific) => held.set(allocation.id, { subnetId: allocation.subnetId, addresses: allocation.addresses, specific });
  // At least minOpsPerClient operations whatever the machine's load, then more until the deadline.
  for (let op = 0; op < config.maxOpsPerClient && (op < (config.minOpsPerClient ?? 0) || Date.now() < deadline); op += 1) {
    let kind = chooseKind();
    if ((kind === "release" && held.size === 0) || ((kind === "shrink" || kind === "grow") && growable().length === 0)) kind = "next";
    const subnet = pick(config.subnets);
    tally(report.ops, kind);
    try {
      if (kind === "next" || kind === "random") {
        const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner, ...(kind === "random" ? { strategy: "random" } : {}) });
        remember(allocation, false);
      } else if (kind === "specific") {
        const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner, address: pick(subnet.specific) });
        remember(allocation, true);
      } else if (kind === "bulk") {
        const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner, count: randomInt(2, 7), strategy: pick(["sequential", "random"]) });
        remember(allocation, false);
      } else if (kind === "idempotent") {
        // A small shared key space: several clients in several processes send the same request.
        const idempotencyKey = `key-${randomInt(config.idempotencyKeys ?? 8)}`;
        const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner: `storm/${config.label}/idempotent`, idempotencyKey });
        report.idempotent.push({ subnetId: subnet.id, key: idempotencyKey, id: allocation.id, addresses: allocation.addresses });
      } else if (kind === "shrink" || kind === "grow") {
        const [id, current] = pick(growable());
        const size = current.addresses.length;
        const count = kind === "shrink" ? (size > 1 ? randomInt(1, size) : 1) : size + randomInt(1, 3);
        const { allocation } = await ipam.resizeAllocation({ allocationId: id, count });
        held.set(id, { ...current, addresses: allocation.addresses });
      } else if (kind === "release") {
        const [id] = pick([...held.entries()]);
        const result = await ipam.release(id);
        if (!result.released) throw new Error(`allocation ${id} held by this client was already gone`);
        held.delete(id);
      } else if (kind === "pools") {
        await ipam.updateSubnet(subnet.id, { allocationPools: pick(subnet.poolSets) });
      }
    } catch (error) {
      const code = error instanceof IpamError ? error.code : "UNEXPECTED";
      tally(report.errors, code);
      if (!EXPECTED.has(code) && report.unexpected.length < 5) report.unexpected.push(`${kind}: ${code}: ${String(error?.message ?? error)}`);
    }
  }
  for (const [id, allocation] of held) report.held.push({ id, subnetId: allocation.subnetId, addresses: allocation.addresses });
}

await Promise.all(Array.from({ length: config.connections }, (_, index) => client(index)));
process.send({ type: "done", report }, () => void ipam.close().finally(() => process.exit(0)));
