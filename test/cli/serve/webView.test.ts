import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { sql } from "slonik";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { growSubnets } from "../../../bench/syntheticSubnets.js";
import { ensureDemoSubnets, runStacks } from "../../../provider/cli/commands/demoCommand.js";
import type { Subnet } from "../../../provider/core/types.js";
import { createDatabasePool, tablesFor } from "../../../provider/store/database/index.js";
import { Ipam } from "../../../provider/store/index.js";
import { createReaderLogin } from "../../helpers/readerDatabase.js";
import { startServe, type ServeProcess } from "../../helpers/serveProcess.js";
import { useTestIpam } from "../../helpers/openTestIpam.js";

/** Debian's chromium (`apt-get install chromium`, done by .ci/run). */
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** Test artifacts (gitignored): one screenshot per step. */
const SHOTS = fileURLToPath(new URL("../../../.tmp/web-screenshots/", import.meta.url));
const HOSTILE = `<script>alert("tag")</script><img src=x onerror=alert("img")>`;
const SCALE_SUBNETS = 10_000;

const context = useTestIpam("webview");
let demo: Record<"web" | "db" | "v6", Subnet>;
let hostileAllocation: string;
let reader: Awaited<ReturnType<typeof createReaderLogin>>;
let server: ServeProcess;
let profile: string;
let browser: BrowserContext;
let page: Page;
const dialogs: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  const { ipam, db } = context;
  // `ipam demo`'s data: its subnets and eight stacks allocating concurrently.
  demo = await ensureDemoSubnets(ipam);
  await runStacks(db.url, "ipam", demo, 8);
  hostileAllocation = (await ipam.allocate({ subnetId: demo.web.id, owner: `evil/${HOSTILE}/x`, description: HOSTILE, tags: { [HOSTILE]: HOSTILE } })).allocation.id;
  await ipam.createSubnet({ cidr: "10.43.0.0/24", namespace: "demo", description: HOSTILE, tags: { owner: HOSTILE } });
  // A namespace of 10k subnets, built in bulk as the bench does.
  const first = await ipam.createSubnet({ cidr: "11.0.0.0/24", namespace: "scale" });
  const pool = await createDatabasePool(db.url, { maxConnections: 1 });
  try {
    const t = tablesFor("ipam");
    const namespaceId = await pool.oneFirst(sql.type(z.object({ namespace_id: z.number() }))`SELECT namespace_id FROM ${t.subnet} WHERE id = ${Number(first.id)}`);
    await growSubnets(pool, t, { namespaceId, parentId: null, base: "11.0.0.0" }, 1, SCALE_SUBNETS);
  } finally {
    await pool.end();
  }
  reader = await createReaderLogin(db.url);
  server = await startServe(["--listen", "127.0.0.1:0"], { IPAM_DATABASE_URL: reader.readerUrl });
  await mkdir(SHOTS, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), "ipam-chromium-"));
  // An empty profile of its own (launchPersistentContext is how Playwright takes --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 700 } });
  page = browser.pages()[0] ?? (await browser.newPage());
  // A loaded CI machine renders a 1,000-row page slowly: wait generously, assert only what shows.
  page.setDefaultTimeout(120_000);
  page.setDefaultNavigationTimeout(120_000);
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (profile !== undefined) await rm(profile, { recursive: true, force: true });
  await reader?.drop();
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });

describe("ipam serve in a real browser", () => {
  it("opens the subnet tree with the demo namespace and its bars", async () => {
    await page.goto(server.url);
    await expect(page.locator("h1").textContent()).resolves.toBe("Subnets");
    const demoRow = page.locator(`tr[data-subnet="${demo.web.id}"]`);
    await expect(demoRow.locator("td.cidr").textContent()).resolves.toBe("10.42.0.0/24");
    await expect(demoRow.locator("svg.bar").count()).resolves.toBe(1);
    await shot("1-tree");
  });

  it("follows a subnet to its page: fields, allocations and the address map", async () => {
    await page.click(`a[href="/subnets/${demo.web.id}"]`);
    await page.waitForURL(new RegExp(`/subnets/${demo.web.id}$`));
    await expect(page.locator("h1").textContent()).resolves.toBe("Subnet 10.42.0.0/24");
    await expect(page.locator("dl.fields").textContent()).resolves.toContain("10.42.0.10-10.42.0.199");
    await expect(page.locator("svg.map rect[data-first]").count()).resolves.toBe(256);
    await expect(page.locator("table.allocations tr[data-allocation]").count()).resolves.toBeGreaterThan(20);
    await shot("2-subnet");
  });

  it("clicks an address in the map and lands on the allocation holding it", async () => {
    const cell = page.locator("svg.map a[data-held]").nth(5);
    const address = (await cell.getAttribute("data-held"))!;
    const holder = (await context.ipam.whoHolds(demo.web.id, address))!;
    await cell.click();
    await page.waitForURL(new RegExp(`/allocations/${holder.id}$`));
    await expect(page.locator("h1").textContent()).resolves.toBe(`Allocation ${holder.id}`);
    await expect(page.locator("ul.addresses").textContent()).resolves.toContain(address);
    await expect(page.locator("dd.owner").textContent()).resolves.toBe(holder.owner);
    await shot("3-allocation");
  });

  it("searches an address (to its allocation) and a CIDR (to its subnet)", async () => {
    const target = (await context.ipam.listAllocations({ subnetId: demo.db.id }, { limit: 1 })).allocations[0]!;
    await page.fill('input[name="q"]', target.addresses[0]!);
    await page.press('input[name="q"]', "Enter");
    await page.waitForURL(new RegExp(`/allocations/${target.id}$`));
    await page.fill('input[name="q"]', "10.42.1.0/26");
    await page.press('input[name="q"]', "Enter");
    await page.waitForURL(new RegExp(`/subnets/${demo.db.id}$`));
    await page.fill('input[name="q"]', "10.42.0.250");
    await page.press('input[name="q"]', "Enter");
    await expect(page.locator("main").textContent()).resolves.toContain("10.42.0.0/24");
    await shot("4-search");
  });

  it("renders a hostile tag, owner and description as text and runs none of it", async () => {
    await page.goto(new URL(`/allocations/${hostileAllocation}`, server.url).toString());
    await expect(page.locator("dd.owner").textContent()).resolves.toBe(`evil/${HOSTILE}/x`);
    await expect(page.locator("dd.description").textContent()).resolves.toBe(HOSTILE);
    await expect(page.locator(".tag-value").first().textContent()).resolves.toBe(HOSTILE);
    await page.goto(new URL(`/subnets/${demo.web.id}`, server.url).toString());
    await page.goto(new URL(`/?namespace=demo`, server.url).toString());
    await page.goto(new URL(`/search?q=10.43.0.0/24`, server.url).toString());
    await expect(page.locator("dd.description").textContent()).resolves.toBe(HOSTILE);
    await page.goto(new URL(`/history?owner=${encodeURIComponent(`evil/${HOSTILE}/x`)}`, server.url).toString());
    await expect(page.locator("table.history").textContent()).resolves.toContain(HOSTILE);
    // Nothing became markup: no script or img element exists on any of these pages.
    await expect(page.evaluate(() => document.querySelectorAll("script, img").length)).resolves.toBe(0);
    await shot("5-hostile-history");
    expect(dialogs).toEqual([]);
  });

  it("pages through the 10k subnets of a namespace, each once", async () => {
    await page.goto(new URL("/?namespace=scale&limit=1000", server.url).toString());
    const seen = new Set<string>();
    for (let pages = 0; pages < 20; pages += 1) {
      const ids = await page.locator("tr[data-subnet]").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-subnet")!));
      for (const id of ids) seen.add(id);
      if (pages === 5) await shot("6-scale-page");
      const next = page.locator('a[rel="next"]');
      if ((await next.count()) === 0) break;
      await next.click();
      await page.waitForLoadState("load");
    }
    expect(seen.size).toBe(SCALE_SUBNETS);
  });

  it("logged no console error and opened no dialog on any page", () => {
    expect(dialogs).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
