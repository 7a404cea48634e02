// A separate OS process playing several team stacks at once: each of `connections` clients asks the
// parent for children of random sizes in [minLength, maxLength] until even the smallest no longer
// fits. Reports ready after opening its connections, waits for "go", then reports what it got.
import { randomInt } from "node:crypto";
import { Ipam } from "../../../dist/provider/store/index.js";

const config = JSON.parse(process.argv[2]);
const ipam = await Ipam.open({ databaseUrl: config.databaseUrl, maxConnections: config.connections, migrate: false, unsafeSkipLocking: config.unsafeSkipLocking ?? false });
await Promise.all(Array.from({ length: config.connections }, () => ipam.getSubnet(config.parentId)));
process.send({ type: "ready" });
await new Promise((resolve) => process.once("message", resolve));

const errors = {};
const count = (error) => {
  const code = error?.code ?? "UNEXPECTED";
  errors[code] = (errors[code] ?? 0) + 1;
  if (code !== "SUBNET_EXHAUSTED") errors.samples = [...(errors.samples ?? []), String(error?.message ?? error)].slice(0, 3);
};

/** A length in [from, to], smaller blocks more likely (weight 1.5 per step), so the drain ends with many small children. */
function pickLength(from, to) {
  const weights = Array.from({ length: to - from + 1 }, (_, i) => Math.round(1000 * 1.5 ** i));
  let roll = randomInt(weights.reduce((a, b) => a + b, 0));
  for (const [i, weight] of weights.entries()) {
    if (roll < weight) return from + i;
    roll -= weight;
  }
  return to;
}

/** Children of random sizes; a size that came back exhausted (and every larger one) is not asked again. */
async function drain(client) {
  const got = [];
  let longestExhausted = config.minLength - 1;
  for (let requests = 0; requests < (config.maxRequests ?? Infinity); requests += 1) {
    if (longestExhausted >= config.maxLength) break;
    const prefixLength = pickLength(longestExhausted + 1, config.maxLength);
    try {
      const child = await ipam.createSubnet({ parentId: config.parentId, prefixLength, strategy: config.strategy });
      got.push({ id: child.id, cidr: child.cidr, requested: prefixLength });
    } catch (error) {
      count(error);
      if (error?.code === "SUBNET_EXHAUSTED") {
        if (error.prefixLength !== prefixLength || !error.message.includes(`/${prefixLength}`) || error.subnetId !== config.parentId) errors.badExhaustion = (errors.badExhaustion ?? 0) + 1;
        longestExhausted = Math.max(longestExhausted, prefixLength);
      } else if (!error?.retryable && !config.unsafeSkipLocking) {
        break;
      }
    }
  }
  return { client, got, exhaustedAt: longestExhausted };
}

const results = await Promise.all(Array.from({ length: config.connections }, (_, client) => drain(client)));
process.send({ type: "done", results, errors });
await ipam.close();
