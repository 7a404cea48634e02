// A separate OS process playing several CI stacks at once: opens `connections` pooled connections,
// reports "ready" once all are open, waits for "go" (the barrier), runs its scenario, reports results.
import { randomInt } from "node:crypto";
import { Ipam } from "../../../dist/provider/store/index.js";

const config = JSON.parse(process.argv[2]);
const ipam = await Ipam.open({ databaseUrl: config.databaseUrl, maxConnections: config.connections, migrate: false });
await Promise.all(Array.from({ length: config.connections }, () => ipam.getSubnet(config.subnetId)));
process.send({ type: "ready" });
await new Promise((resolve) => process.once("message", resolve));

const errors = {};
const count = (error) => {
  const code = error?.code ?? "UNEXPECTED";
  errors[code] = (errors[code] ?? 0) + 1;
  if (code === "UNEXPECTED" || code === "DATABASE_ERROR") errors.samples = [...(errors.samples ?? []), String(error?.message ?? error)].slice(0, 3);
};

async function drain(client) {
  const taken = [];
  for (;;) {
    try {
      const { allocation } = await ipam.allocate({ subnetId: config.subnetId, owner: `w${process.pid}/c${client}`, strategy: config.strategy });
      taken.push(...allocation.addresses);
    } catch (error) {
      count(error);
      if (error?.code === "SUBNET_EXHAUSTED") return taken;
      if (!error?.retryable) return taken;
    }
  }
}

/** Random mix of operations; returns the allocations this client still holds. */
async function mix(client) {
  const held = new Map();
  for (let op = 0; op < config.operations; op += 1) {
    const roll = randomInt(100);
    try {
      const ids = [...held.keys()];
      if (roll < 15 && ids.length > 0) {
        const id = ids[randomInt(ids.length)];
        const result = await ipam.release(id);
        if (!result.released) throw new Error(`own allocation ${id} was already released`);
        held.delete(id);
      } else if (roll < 25 && ids.some((id) => !held.get(id).specific)) {
        const growable = ids.filter((id) => !held.get(id).specific);
        const id = growable[randomInt(growable.length)];
        const result = await ipam.resizeAllocation({ allocationId: id, count: randomInt(1, 4) });
        held.set(id, { addresses: result.allocation.addresses, specific: false });
      } else if (roll < 30 && config.poolSets) {
        await ipam.updateSubnet(config.subnetId, { allocationPools: config.poolSets[randomInt(config.poolSets.length)] });
      } else {
        const request = { subnetId: config.subnetId, owner: `w${process.pid}/c${client}` };
        if (roll < 50) request.address = config.specific[randomInt(config.specific.length)];
        else if (roll < 70) request.strategy = "random";
        else if (roll < 80) request.count = randomInt(2, 5);
        const { allocation } = await ipam.allocate(request);
        held.set(allocation.id, { addresses: allocation.addresses, specific: request.address !== undefined });
      }
    } catch (error) {
      count(error);
    }
  }
  return [...held.entries()].map(([id, { addresses }]) => ({ id, addresses }));
}

const work = config.scenario === "drain" ? drain : mix;
const results = await Promise.all(Array.from({ length: config.connections }, (_, client) => work(client)));
process.send({ type: "done", results, errors });
await ipam.close();
