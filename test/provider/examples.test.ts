import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProviderHost, urnOf, type ProviderHost, type Props } from "../../harness/providerHost.js";
import { captureResources, type CapturedResource } from "../../harness/serializedProviders.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";

const root = resolve(import.meta.dirname, "..", "..");
const examples = ["quickstart", "multi-stack/network", "multi-stack/app", "ipv6", "child-subnets"];
let db: LeastPrivilegeDatabase;
let host: ProviderHost;

beforeAll(async () => {
  // What `npm install pulumi-ipam` gives a user (gitignored): the package as published, dist/ built.
  const link = join(root, "examples", "node_modules", "pulumi-ipam");
  if (!existsSync(link)) {
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(root, link, "dir");
  }
  db = await createLeastPrivilegeDatabase("provexamples");
  host = await startProviderHost();
  await host.configure({ "ipam:databaseUrl": db.appUrl });
});
afterAll(async () => {
  await host?.close();
  await db?.drop();
});

/** Mocked engine state: Subnets get a subnetId output, the StackReference serves the network stack's, the stack identity an id. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  if (type === "pulumi:pulumi:StackReference") return { ...inputs, outputs: { appsSubnetId: "apps-id" } };
  if (type.endsWith(":StackIdentity")) return { stackId: "stack-id" };
  if (!("subnetId" in inputs)) return { ...inputs, subnetId: `${name}-id` }; // a Subnet (allocations always name one)
  return inputs;
}

const isStackIdentity = (r: CapturedResource) => r.type.endsWith(":StackIdentity");

/** Play the captured registrations through the real host: the stack identity, parents, children, allocations; mock ids mapped to real ones. */
async function deploy(resources: CapturedResource[], ids: Map<string, string>): Promise<Props[]> {
  const outs: Props[] = [];
  const ipam = resources.filter((r) => typeof r.inputs.__provider === "string");
  const rank = (r: CapturedResource) => (isStackIdentity(r) ? -1 : "subnetId" in r.inputs ? 2 : r.inputs.parentId === undefined ? 0 : 1);
  for (const r of [...ipam].sort((a, b) => rank(a) - rank(b))) {
    const news: Props = {};
    for (const [k, v] of Object.entries(r.inputs)) if (v !== undefined) news[k] = k === "subnetId" || k === "parentId" || k === "__stack" ? ids.get(String(v)) ?? v : v;
    const urn = urnOf("", r.name);
    const checked = await host.check(urn, {}, news);
    expect(checked.failures).toEqual([]);
    const created = await host.create(urn, checked.inputs);
    if (isStackIdentity(r)) {
      ids.set("stack-id", created.id); // not an IPAM resource: nothing to check in its outputs
      continue;
    }
    ids.set(`${r.name}-id`, created.id);
    outs.push(created.properties);
  }
  return outs;
}

describe("examples", () => {
  it("type-check against the SDK", () => {
    const dir = mkdtempSync(join(tmpdir(), "ipam-examples-"));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true, noEmit: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2023", skipLibCheck: true,
          types: ["node"], typeRoots: [join(root, "node_modules/@types")],
          paths: { "pulumi-ipam": [join(root, "sdk/index.ts")] },
        },
        files: examples.map((e) => join(root, "examples", e, "index.ts")),
      }),
    );
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    try {
      execFileSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { stdio: "pipe" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const ids = new Map<string, string>();
  for (const name of examples) {
    it(`${name} runs under mocks and deploys through the host`, async () => {
      const resources = await captureResources(async () => {
        await import(/* @vite-ignore */ pathToFileURL(join(root, "examples", name, "index.ts")).href);
      }, "ipam-example", name.replace("/", "-"), mockState);
      const ipamResources = resources.filter((r) => typeof r.inputs.__provider === "string");
      expect(ipamResources.length).toBeGreaterThan(0);
      const outs = await deploy(resources, ids);
      for (const out of outs) {
        if ("addresses" in out) expect((out.addresses as string[]).length).toBeGreaterThan(0);
        else expect(out.subnetId).toMatch(/^\d+$/);
      }
      if (name === "ipv6") expect(outs[0]).toMatchObject({ ipVersion: 6, size: "18446744073709551616" });
      if (name === "multi-stack/app") expect(outs[0]).toMatchObject({ prefixLength: 22 });
      if (name === "child-subnets") {
        // Registration order under mocks is not program order: compare by shape, not position.
        const children = outs.filter((out) => typeof out.parentId === "string");
        expect(children.map((child) => child.prefixLength).sort()).toEqual([22, 24, 28]);
        expect(new Set(children.map((child) => child.cidr)).size).toBe(3);
        for (const child of children) expect(child).toMatchObject({ cidr: expect.stringMatching(/^10\.64\./), namespace: "platform" });
        const api = outs.find((out) => "addresses" in out)!;
        expect(api.subnetId).toBe(children.find((child) => child.prefixLength === 22)!.subnetId);
        expect(api.addresses).toHaveLength(3);
      }
    });
  }
});
