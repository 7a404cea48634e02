import type { Hono } from "hono";
import { InvalidInputError } from "../../../core/errors.js";
import type { ServeData } from "../serveData.js";
import { searchPage } from "../views/searchPage.js";

/**
 * The search box: an address opens the allocation holding it (or lists the subnets containing it),
 * a CIDR opens the subnet with exactly that CIDR (or lists the candidates).
 */
export function registerSearchRoutes(app: Hono, data: ServeData): void {
  const read = async (q: string | undefined) => {
    const text = (q ?? "").trim();
    if (text === "") throw InvalidInputError.of("q", "type an address (10.0.0.5) or a CIDR (10.0.0.0/24)");
    return { text, found: await data.searchAddressSpace(text) };
  };
  app.get("/search", async (c) => {
    const { text, found } = await read(c.req.query("q"));
    if (found.allocations.length === 1) return c.redirect(`/allocations/${found.allocations[0]!.id}`, 302);
    const exact = found.subnets.filter((subnet) => subnet.cidr === found.query);
    if (!found.isAddress && exact.length === 1) return c.redirect(`/subnets/${exact[0]!.id}`, 302);
    return c.html(searchPage(text, found));
  });
  app.get("/api/v1/search", async (c) => c.json((await read(c.req.query("q"))).found));
}
