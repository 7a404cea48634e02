import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installPackage } from "../../harness/engine/program.js";
import { HOST_SCRIPT, startProviderHost, urnOf, type ProviderHost, type Props } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import { ciHostEnv, useProviderHost } from "../helpers/providerTestContext.js";
import { serveThroughStoredText } from "../helpers/storedProviderText.js";

const root = resolve(import.meta.dirname, "..", "..");
const context = useProviderHost("installedtext", { env: ciHostEnv() });

// A program directory with the package installed in its node_modules, as `npm install pulumi-ipam` leaves it.
let program: string;
let installed: Awaited<ReturnType<typeof serializedProviders>>;
beforeAll(async () => {
  program = mkdtempSync(join(tmpdir(), "ipam-installed-"));
  const packageDir = await installPackage(program);
  installed = await serializedProviders("proj", "dev", join(packageDir, "dist", "sdk", "index.js"));
});
afterAll(() => rmSync(program, { recursive: true, force: true }));

/** The SDK's host as the engine starts it for this program: in its directory, running its @pulumi/pulumi. */
function hostInProgram(cwd = program): Promise<ProviderHost> {
  return startProviderHost(ciHostEnv(), { cwd, hostScript: join(program, "node_modules", HOST_SCRIPT) });
}

describe("the __provider text of an installed package", () => {
  it("names each kind's module by package (no code, no path of this machine, no secret) and is about a quarter of the copied loader", async () => {
    process.env.IPAM_DATABASE_URL = "postgres://u:SENTINEL-PW-123@127.0.0.1:1/x";
    for (const kind of ["subnet", "allocation"] as const) {
      const text = installed[kind];
      expect(text).toContain(`require("pulumi-ipam/host/${kind}.cjs")`);
      expect(text).not.toMatch(/configure|function __f1/); // the module's code stays in the package
      expect(text.length).toBeLessThanOrEqual(300);
      // The checkout's own examples link the package: the serializer copies the loader there.
      expect(context.P[kind]).toContain("configure");
      expect(context.P[kind].length - text.length).toBeGreaterThanOrEqual(700);
      for (const here of [root, program, process.cwd(), homedir(), tmpdir()]) expect(text).not.toContain(here);
      expect(text).not.toMatch(/["'`](\/|[A-Za-z]:\\)/);
      expect(text).not.toMatch(/postgres:\/\/|SENTINEL-PW-123/);
    }
  });

  // Either text may be the one stored in state (Read, Delete) while the other is the program's
  // (Check, Diff, Create, Update): state from a linked checkout deployed again with the package
  // installed, and the other way round. Both reach the one package the host loaded.
  for (const first of ["installed", "copied"] as const) {
    it(`a host in the program's directory serves it beside the copied loader (${first} text loading the package): create, read, diff, update, delete`, async () => {
      const copied = { subnet: context.P.subnet, allocation: context.P.allocation };
      const [made, stored] = first === "installed" ? [installed, copied] : [copied, installed];
      const host = await hostInProgram();
      try {
        await host.configure({ "ipam:databaseUrl": context.db.appUrl });
        const netUrn = urnOf("ipam:Subnet", `net-${first}`);
        const netNews = { __provider: made.subnet, __owner: context.P.ownerOf(`net-${first}`), cidr: `10.${first === "installed" ? 0 : 1}.0.0/24` };
        const checkedNet = await host.check(netUrn, {}, netNews);
        expect(checkedNet.failures).toEqual([]);
        const net = await host.create(netUrn, checkedNet.inputs);
        const allocUrn = urnOf("ipam:IpAllocation", `web-${first}`);
        const news = (p: Props) => ({ __provider: made.allocation, __owner: context.P.ownerOf(`web-${first}`), subnetId: net.id, ...p });
        const checked = await host.check(allocUrn, {}, news({ count: 0 }));
        expect(checked.failures.map((f) => f.property)).toEqual(["count"]); // the package's own Check ran
        const alloc = await host.create(allocUrn, (await host.check(allocUrn, {}, news({ count: 1 }))).inputs);
        expect(alloc.properties.__provider).toBe(made.allocation);

        // Either text names the package, so neither asks for an Update of its own (needsStateUpgrade).
        expect(await host.diff(allocUrn, alloc.id, { ...alloc.properties, __provider: stored.allocation }, news({ count: 1 }))).toMatchObject({ changes: 1 }); // DIFF_NONE
        await serveThroughStoredText(host, context.direct, stored, { urn: netUrn, ...net }, { urn: allocUrn, ...alloc }, news);
      } finally {
        await host.close();
      }
    });
  }

  // The text as this release stores it, byte for byte: later releases must keep its module's name
  // (package.json exports `./host/<kind>.cjs`), or state that names it stops refreshing and destroying.
  it("the installed text stored by this release (5780587) keeps working from a host in the program's directory", async () => {
    const stored = readFileSync(join(import.meta.dirname, "..", "helpers", "earlierProviderTexts", "installed-5780587.txt"), "utf8");
    const host = await hostInProgram();
    try {
      await host.configure({ "ipam:databaseUrl": context.db.appUrl });
      const net = await context.direct.createSubnet({ cidr: "10.2.0.0/24" });
      for (const kind of ["allocation", "subnet"] as const) {
        const text = stored.replace('"pulumi-ipam/host/allocation.cjs"', `"pulumi-ipam/host/${kind}.cjs"`);
        const urn = urnOf(kind === "allocation" ? "ipam:IpAllocation" : "ipam:Subnet", `stored-${kind}`);
        const props = kind === "allocation" ? { subnetId: net.id, count: 0 } : { cidr: "10.3.0.0/24", prefixLength: 7 };
        const checked = await host.check(urn, {}, { __provider: text, __owner: context.P.ownerOf(`stored-${kind}`), ...props });
        expect(checked.failures.length, kind).toBeGreaterThan(0); // the package's own Check ran and refused the bad input
      }
      const allocUrn = urnOf("ipam:IpAllocation", "stored-web");
      const news = { __provider: stored, __owner: context.P.ownerOf("stored-web"), subnetId: net.id };
      const alloc = await host.create(allocUrn, (await host.check(allocUrn, {}, news)).inputs);
      await host.delete(allocUrn, alloc.id, alloc.properties);
      expect((await context.direct.listAllocations({ subnetId: net.id })).allocations).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it("where the host's directory cannot reach the package, every call fails naming the module, and nothing is made", async () => {
    const away = mkdtempSync(join(tmpdir(), "ipam-no-package-"));
    const host = await hostInProgram(away);
    const subnetsBefore = (await context.direct.listSubnets()).length;
    try {
      await host.configure({ "ipam:databaseUrl": context.db.appUrl });
      const urn = urnOf("ipam:IpAllocation", "web");
      const props = { __provider: installed.allocation, __owner: "proj/dev/web", subnetId: "1" };
      const netProps = { __provider: installed.subnet, __owner: "proj/dev/net", cidr: "10.9.0.0/24" };
      for (const call of [
        () => host.check(urn, {}, props),
        () => host.create(urn, props),
        () => host.read(urn, "7", props, props),
        () => host.delete(urn, "7", props),
        () => host.create(urnOf("ipam:Subnet", "net"), netProps),
      ]) {
        const error = await call().then(() => null, (e: Error) => e);
        expect(error?.message).toMatch(/Cannot find module 'pulumi-ipam\/host\/(allocation|subnet)\.cjs'/);
      }
      expect((await context.direct.listSubnets()).length).toBe(subnetsBefore);
    } finally {
      await host.close();
      rmSync(away, { recursive: true, force: true });
    }
  });
});
