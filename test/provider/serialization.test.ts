import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { HOST_SCRIPT, startProviderHost, urnOf } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import { installPackage } from "../../harness/engine/program.js";

const root = resolve(import.meta.dirname, "..", "..");

describe("serialized __provider", () => {
  it("is small, names the implementation by package, holds no path of this machine, no URL or password", async () => {
    process.env.IPAM_DATABASE_URL = "postgres://u:SENTINEL-PW-123@127.0.0.1:1/x";
    const { subnet, allocation, resources } = await serializedProviders();
    for (const text of [subnet, allocation]) {
      expect(text.length).toBeGreaterThan(100);
      // Stored twice in every resource's state and rewritten with the checkpoint at every step (bench scenario 13).
      expect(text.length).toBeLessThanOrEqual(1_100);
      expect(text).toContain('"pulumi-ipam/dynamic"');
      // Nothing that depends on where the program or the package lives (docs/identity.md).
      for (const here of [root, process.cwd(), homedir(), tmpdir()]) expect(text).not.toContain(here);
      expect(text).not.toContain("dist/provider");
      expect(text).not.toMatch(/["'`](\/|[A-Za-z]:\\)/); // no absolute path literal, POSIX or Windows
      expect(text).not.toMatch(/postgres:\/\//);
      expect(text).not.toContain("SENTINEL-PW-123");
    }
    const web = resources.find((r) => r.name === "web")!;
    expect(web.inputs.__owner).toBe("proj/dev/web");
  });
});

describe("the serialized provider's one function", () => {
  // Issue 25: the text travels in every Check and Create request and response, so it holds one
  // function, configure, and the host's configure (always its first call to a provider it has just
  // deserialized: cmd/dynamic-provider getProvider) makes the other methods.
  it("is configure alone; the other methods are made in the host", async () => {
    const { subnet, allocation } = await serializedProviders();
    for (const text of [subnet, allocation]) {
      expect(text).toMatch(/^var __provider = \{configure: __f\d+\};$/m);
      expect(text.match(/^function __f\d+\(/gm)).toHaveLength(2); // configure and the SDK's handler
    }
  });

  it("where the package cannot be found, every method fails with the reason (none is skipped as missing), and nothing is made", async () => {
    const { allocation } = await serializedProviders();
    const away = mkdtempSync(join(tmpdir(), "ipam-no-package-"));
    const { IPAM_DATABASE_URL: _, ...env } = process.env;
    const host = await startProviderHost({ ...env, CI: "true" }, { cwd: away });
    try {
      const urn = urnOf("ipam:IpAllocation", "web");
      const props = { __provider: allocation, __owner: "proj/dev/web", subnetId: "1" };
      const reason = /cannot find the pulumi-ipam package/;
      // The first call configures (and fails); the provider stays cached in the host, so each later
      // call must still reach a method that says why, not find the method missing (a missing delete
      // would be skipped and report success; a missing check would pass anything).
      await expect(host.check(urn, {}, props)).rejects.toThrow(reason);
      await expect(host.check(urn, {}, props)).rejects.toThrow(reason);
      await expect(host.create(urn, props)).rejects.toThrow(reason);
      await expect(host.diff(urn, "7", props, props)).rejects.toThrow(reason);
      await expect(host.read(urn, "7", props, props)).rejects.toThrow(reason);
      await expect(host.update(urn, "7", props, props)).rejects.toThrow(reason);
      await expect(host.delete(urn, "7", props)).rejects.toThrow(reason);
    } finally {
      await host.close();
      rmSync(away, { recursive: true, force: true });
    }
  });

  it("a package that is found but fails to load keeps its own error (not 'cannot find'), in every method", async () => {
    const { allocation } = await serializedProviders();
    const program = mkdtempSync(join(tmpdir(), "ipam-broken-package-"));
    const broken = join(program, "node_modules", "pulumi-ipam");
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, "package.json"), JSON.stringify({ name: "pulumi-ipam", exports: { "./dynamic": "./dynamic.cjs" } }));
    writeFileSync(join(broken, "dynamic.cjs"), 'throw new Error("BROKEN-PACKAGE-SENTINEL");');
    const { IPAM_DATABASE_URL: _, ...env } = process.env;
    const host = await startProviderHost({ ...env, CI: "true" }, { cwd: program });
    try {
      const urn = urnOf("ipam:IpAllocation", "web");
      const props = { __provider: allocation, __owner: "proj/dev/web", subnetId: "1" };
      for (const call of [() => host.check(urn, {}, props), () => host.check(urn, {}, props), () => host.read(urn, "7", props, props), () => host.delete(urn, "7", props)]) {
        const error = await call().then(() => null, (e: Error) => e);
        expect(error?.message).toContain("BROKEN-PACKAGE-SENTINEL");
        expect(error?.message).not.toMatch(/cannot find/);
      }
    } finally {
      await host.close();
      rmSync(program, { recursive: true, force: true });
    }
  });

  it("resolves the package from the host's own script, as given and with links resolved, when the program directory has none", async () => {
    // given/: the package installed, @pulumi/pulumi linked to this repository's (so only the path as
    // given leads to the package); real/: the package installed, and a host script (it runs the SDK's)
    // where the engine's nodejs plugin runs it from; linked/: real/'s @pulumi through a link (as pnpm
    // lays it out), so only the path with links resolved leads to the package.
    const { allocation } = await serializedProviders();
    const top = mkdtempSync(join(tmpdir(), "ipam-host-path-"));
    const given = join(top, "given");
    await installPackage(given);
    const real = join(top, "real");
    await installPackage(real);
    rmSync(join(real, "node_modules", "@pulumi"));
    const script = join(real, "node_modules", HOST_SCRIPT);
    mkdirSync(join(script, ".."), { recursive: true });
    writeFileSync(script, `require(${JSON.stringify(join(root, "node_modules", HOST_SCRIPT))});`);
    mkdirSync(join(top, "linked", "node_modules"), { recursive: true });
    symlinkSync(join(real, "node_modules", "@pulumi"), join(top, "linked", "node_modules", "@pulumi"), "dir");
    const away = join(top, "away");
    mkdirSync(away);
    const { IPAM_DATABASE_URL: _, ...env } = process.env;
    try {
      for (const hostScript of [join(given, "node_modules", HOST_SCRIPT), script, join(top, "linked", "node_modules", HOST_SCRIPT)]) {
        const host = await startProviderHost({ ...env, CI: "true" }, { cwd: away, hostScript });
        try {
          await host.configure({});
          const urn = urnOf("ipam:IpAllocation", "web");
          const checked = await host.check(urn, {}, { __provider: allocation, __owner: "proj/dev/web", subnetId: "1", count: 0 });
          expect(checked.failures.map((f) => f.property)).toEqual(["count"]); // the package's own Check ran
        } finally {
          await host.close();
        }
      }
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });
});

describe("resource identity the SDK sends", () => {
  it("owner is project/stack/name; scope adds the parent's URN, so equal names under different parents differ", async () => {
    const pulumi = await import("@pulumi/pulumi");
    const { captureResources } = await import("../../harness/serializedProviders.js");
    const { IpAllocation } = await import("../../sdk/index.js");
    const resources = await captureResources(() => {
      for (const type of ["my:net:Vpc", "my:db:Cluster"]) {
        const parent = new pulumi.ComponentResource(type, "main");
        new IpAllocation("gw", { subnetId: "1" }, { parent });
      }
      new IpAllocation("top", { subnetId: "1" });
    });
    const gws = resources.filter((r) => r.name === "gw");
    expect(gws.map((r) => r.inputs.__owner)).toEqual(["proj/dev/gw", "proj/dev/gw"]);
    const scopes = gws.map((r) => String(r.inputs.__scope));
    expect(scopes[0]).toContain("my:net:Vpc::main");
    expect(scopes[1]).toContain("my:db:Cluster::main");
    expect(resources.find((r) => r.name === "top")!.inputs.__scope).not.toContain("urn:");
  });
});

describe("stack identity the SDK sends", () => {
  it("each run registers one StackIdentity; every Subnet and IpAllocation sends its id as __stack", async () => {
    const { captureResources } = await import("../../harness/serializedProviders.js");
    const { IpAllocation, Subnet } = await import("../../sdk/index.js");
    const seen: string[] = [];
    for (const run of ["first", "second"]) {
      // The engine's stored output for the identity resource (one per stack's state).
      const state = (type: string, _name: string, inputs: Record<string, unknown>) => (type.endsWith(":StackIdentity") ? { stackId: `id-${run}` } : inputs);
      const resources = await captureResources(
        () => {
          const net = new Subnet("net", { cidr: "10.0.0.0/24" });
          new IpAllocation("a", { subnetId: net.subnetId });
          new IpAllocation("b", { subnetId: net.subnetId });
        },
        "proj",
        "dev",
        state,
      );
      const identities = resources.filter((r) => r.type.endsWith(":StackIdentity"));
      expect(identities).toHaveLength(1);
      const text = String(identities[0]!.inputs.__provider);
      expect(text).not.toContain(root);
      expect(text).not.toMatch(/["'`](\/|[A-Za-z]:\\)/);
      const ipam = resources.filter((r) => !r.type.endsWith(":StackIdentity"));
      expect(ipam.map((r) => r.inputs.__stack)).toEqual([`id-${run}`, `id-${run}`, `id-${run}`]);
      seen.push(String(ipam[0]!.inputs.__stack));
    }
    expect(seen).toEqual(["id-first", "id-second"]);
  });
});

describe("a get", () => {
  it("brings no stack identity into the stack: it creates nothing", async () => {
    const { captureResources } = await import("../../harness/serializedProviders.js");
    const { IpAllocation, Subnet } = await import("../../sdk/index.js");
    const resources = await captureResources(() => {
      Subnet.get("existing", "7");
      IpAllocation.get("held", "9");
    });
    expect(resources.map((r) => r.name).sort()).toEqual(["existing", "held"]);
    expect(resources.filter((r) => r.type.endsWith(":StackIdentity"))).toEqual([]);
  });
});

describe("the package's install (what this release's text calls)", () => {
  it("puts the kind's six methods on the provider (delete is remove); an unknown kind is refused, naming it, and nothing is put", async () => {
    const { install, allocation } = await import("../../provider/dynamic/index.js");
    const config = { get: () => undefined };
    const provider: Record<string, unknown> = {};
    install(provider, "allocation", { config });
    expect(Object.keys(provider).sort()).toEqual(["check", "create", "delete", "diff", "read", "update"]);
    expect(provider.delete).toBe(allocation.remove);
    const untouched: Record<string, unknown> = {};
    expect(() => install(untouched, "toString", { config })).toThrow(/"toString".*subnet, allocation/);
    expect(untouched).toEqual({});
  });
});
