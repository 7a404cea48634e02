import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { urnOf } from "../../harness/providerHost.js";
import { ciHostEnv, useProviderHost } from "../helpers/providerTestContext.js";

/*
 * What a provider host loads (issue 25: one host per stack, its memory counted per stack). The host
 * records every module it loads through a module hook given with --import; the store's rarely used
 * parts (reports, snapshots, restore) and the embedded server's code must stay unloaded by a host
 * that checks, creates and deletes allocations on a configured database.
 */
const dir = mkdtempSync(join(tmpdir(), "ipam-host-modules-"));
const loadedList = join(dir, "loaded.txt");
const hook = join(dir, "recordLoads.mjs");
writeFileSync(loadedList, "");
writeFileSync(
  hook,
  [
    `import { registerHooks } from "node:module";`,
    `import { appendFileSync } from "node:fs";`,
    `registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(loadedList)}, url + "\\n"); return next(url, context); } });`,
  ].join("\n"),
);
const env = ciHostEnv();
const context = useProviderHost("hostmodules", { env: { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ""} --import=${pathToFileURL(hook).href}`.trim() } });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const loaded = () => readFileSync(loadedList, "utf8").split("\n").filter((url) => url !== "");
const ofOurs = (urls: readonly string[], folder: string) => urls.filter((url) => url.includes(`/provider/${folder}/`) && !url.includes("/node_modules/"));

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
});
