import { mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { startProviderHost, urnOf } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";

const root = resolve(import.meta.dirname, "..", "..");

describe("serialized __provider", () => {
  it("is small, names the implementation by package, holds no path of this machine, no URL or password", async () => {
    process.env.IPAM_DATABASE_URL = "postgres://u:SENTINEL-PW-123@127.0.0.1:1/x";
    const { subnet, allocation, resources } = await serializedProviders();
    for (const text of [subnet, allocation]) {
      expect(text.length).toBeGreaterThan(100);
      expect(text.length).toBeLessThan(20_000);
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
