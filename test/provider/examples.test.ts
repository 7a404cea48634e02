import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProviderHost, urnOf, type ProviderHost, type Props } from "../helpers/providerHost.js";
import { captureResources, type CapturedResource } from "../helpers/serializedProviders.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";

const root = resolve(import.meta.dirname, "..", "..");
const examples = ["quickstart", "multi-stack/network", "multi-stack/app", "ipv6"];
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

/** Mocked engine state: Subnets get a subnetId output, the StackReference serves the network stack's. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  if (type === "pulumi:pulumi:StackReference") return { ...inputs, outputs: { appsSubnetId: "apps-id" } };
  if (typeof inputs.cidr === "string") return { ...inputs, subnetId: `${name}-id` };
  return inputs;
}

/** Play the captured registrations through the real host: subnets first, mock ids mapped to real ones. */
async function deploy(resources: CapturedResource[], ids: Map<string, string>): Promise<Props[]> {
  const outs: Props[] = [];
  const ipam = resources.filter((r) => typeof r.inputs.__provider === "string");
  for (const r of [...ipam.filter((r) => "cidr" in r.inputs), ...ipam.filter((r) => !("cidr" in r.inputs))]) {
    const news: Props = {};
    for (const [k, v] of Object.entries(r.inputs)) if (v !== undefined) news[k] = k === "subnetId" ? ids.get(String(v)) ?? v : v;
    const urn = urnOf("", r.name);
    const checked = await host.check(urn, {}, news);
    expect(checked.failures).toEqual([]);
    const created = await host.create(urn, checked.inputs);
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
    execFileSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { stdio: "pipe" });
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
    });
  }
});
