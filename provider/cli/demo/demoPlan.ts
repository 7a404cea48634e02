import type { AllocateInput, CreateSubnetInput } from "../../core/schemas.js";

export const DEMO_NAMESPACE = "demo";

/** The demo's subnets, keyed by role: IPv4 and IPv6, explicit and default pools, gateway, reserved. */
export const DEMO_SUBNETS = {
  web: {
    cidr: "10.42.0.0/24",
    gateway: "10.42.0.1",
    allocationPools: [{ start: "10.42.0.10", end: "10.42.0.199" }],
    reserved: ["10.42.0.5", "10.42.0.240/28"],
    description: "web tier",
  },
  db: { cidr: "10.42.1.0/26", gateway: "10.42.1.1", reserved: ["10.42.1.2", "10.42.1.3"], description: "databases" },
  v6: { cidr: "2001:db8:42::/64", gateway: "2001:db8:42::1", description: "IPv6 services" },
} satisfies Record<string, Omit<CreateSubnetInput, "namespace">>;

export type DemoSubnet = keyof typeof DEMO_SUBNETS;

export interface DemoStep {
  readonly subnet: DemoSubnet;
  readonly resource: string;
  readonly request: Omit<AllocateInput, "subnetId" | "owner" | "idempotencyKey">;
  /** A deployment that fails and rolls back: what it took is released again. */
  readonly rollback?: boolean;
}

/**
 * What one simulated stack deploys. Every request carries an idempotency key, as the provider's
 * do, so running the demo again returns the same addresses instead of taking new ones.
 */
export function stackPlan(stack: number, stacks: number): DemoStep[] {
  const steps: DemoStep[] = [
    { subnet: "web", resource: "frontend", request: { count: 3 } },
    { subnet: "web", resource: "api", request: { strategy: "random" } },
    { subnet: "web", resource: "workers", request: { count: 4, strategy: "random" } },
    { subnet: "db", resource: "primary", request: {} },
    { subnet: "db", resource: "replica", request: {} },
    { subnet: "v6", resource: "frontend", request: { count: 2, strategy: "random" } },
    { subnet: "v6", resource: "api", request: {} },
  ];
  // One hand-picked address outside the pools, which `ipam usage` and the map flag.
  if (stack === 1) steps.push({ subnet: "web", resource: "vip", request: { address: "10.42.0.220" } });
  if (stack === stacks) steps.push({ subnet: "web", resource: "canary", request: { count: 2 }, rollback: true });
  return steps;
}

export function stackName(stack: number): string {
  return `stack-${stack}`;
}
