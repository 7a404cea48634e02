import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { startProviderHost, urnOf } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import { ciHostEnv, useProviderHost } from "../helpers/providerTestContext.js";

/*
 * What a provider host loads (issue 25: one host per stack, its memory counted per stack). The host
 * records every module it loads through a module hook given with --import; the store's rarely used
 * parts (reports, snapshots, restore) and the embedded server's code must stay unloaded by a host
 * that checks, creates and deletes allocations on a configured database.
 */
const dir = mkdtempSync(join(tmpdir(), "ipam-host-modules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A host environment whose host appends every module it loads to a list of its own; and that list. */
function recordingLoads(name: string): { env: NodeJS.ProcessEnv; loaded: () => string[] } {
  const list = join(dir, `${name}.txt`);
  const hook = join(dir, `${name}.mjs`);
  writeFileSync(list, "");
  writeFileSync(
    hook,
    [
      `import { registerHooks } from "node:module";`,
      `import { appendFileSync } from "node:fs";`,
      `registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + "\\n"); return next(url, context); } });`,
    ].join("\n"),
  );
  const env = ciHostEnv();
  return {
    env: { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ""} --import=${pathToFileURL(hook).href}`.trim() },
    loaded: () => readFileSync(list, "utf8").split("\n").filter((url) => url !== ""),
  };
}

const { env: hostEnv, loaded } = recordingLoads("up");
const context = useProviderHost("hostmodules", { env: hostEnv });
const ofOurs = (urls: readonly string[], folder: string) => urls.filter((url) => url.includes(`/provider/${folder}/`) && !url.includes("/node_modules/"));
const ofPackage = (urls: readonly string[], name: string) => urls.filter((url) => url.includes(`/node_modules/${name}/`));

describe("what a provider host loads", () => {
  it("checks, creates and deletes allocations without loading the store's reports, snapshots or restore code, or the embedded server's", async () => {
    const subnet = await context.direct.createSubnet({ cidr: "10.9.0.0/24" });
    const urn = urnOf("ipam:IpAllocation", "web");
    const made = await context.up(urn, { __provider: context.P.allocation, __owner: context.P.ownerOf("web"), subnetId: subnet.id });
    expect(made.properties.address).toBe("10.9.0.1");
    await context.host.delete(urn, made.id, made.properties);
    expect(await context.direct.listAllocations({ subnetId: subnet.id })).toEqual({ allocations: [], next: null });

    const urls = loaded();
    // The control: the hook saw the provider and the store load.
    expect(ofOurs(urls, "dynamic").some((url) => url.endsWith("/allocationProvider.js"))).toBe(true);
    expect(ofOurs(urls, "store").some((url) => url.endsWith("/store/Ipam.js"))).toBe(true);
    expect(ofOurs(urls, "store/reports")).toEqual([]);
    expect(ofOurs(urls, "store/snapshots")).toEqual([]);
    expect(ofOurs(urls, "store/restore")).toEqual([]);
    expect(ofOurs(urls, "localDatabase")).toEqual([]);
    // The snapshot reader's streaming JSON parser comes with snapshots only.
    expect(urls.filter((url) => url.includes("/node_modules/@streamparser/"))).toEqual([]);
  });

  it("checks and diffs (a preview) without loading the store, slonik or pg", async () => {
    const preview = recordingLoads("preview");
    const host = await startProviderHost(preview.env);
    try {
      // Never used: a preview's Check and Diff do not touch the database.
      await host.configure({ "ipam:databaseUrl": "postgres://nobody@127.0.0.1:1/none" });
      const P = await serializedProviders();
      const urn = urnOf("ipam:IpAllocation", "web");
      const news = { __provider: P.allocation, __owner: P.ownerOf("web"), subnetId: "1" };
      expect((await host.check(urn, {}, news)).failures).toEqual([]);
      const olds = { ...news, __inputs: { subnetId: "1" }, allocationId: "7", addresses: ["10.9.0.1"], address: "10.9.0.1", count: 1 };
      expect((await host.diff(urn, "7", olds, { ...news, description: "changed" })).changes).toBeGreaterThan(0);

      const urls = preview.loaded();
      // The control: the provider and the core loaded.
      expect(ofOurs(urls, "dynamic").some((url) => url.endsWith("/allocationProvider.js"))).toBe(true);
      expect(ofOurs(urls, "core").some((url) => url.endsWith("/core/schemas.js"))).toBe(true);
      expect(ofOurs(urls, "store")).toEqual([]);
      expect(ofPackage(urls, "slonik")).toEqual([]);
      expect(ofPackage(urls, "pg")).toEqual([]);
    } finally {
      await host.close();
    }
  });
});
