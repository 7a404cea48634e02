import type { Hono } from "hono";
import { InvalidInputError } from "../../../core/errors.js";
import { optionalText, pageLimit } from "../requestParams.js";
import type { ServeData } from "../serveData.js";
import { fullestFirst, fullestPage } from "../views/fullestPage.js";

/**
 * Subnets ordered by pool use across all pages. An order by a computed figure has no index to page
 * by, so this reads every subnet's figures with the one grouped read /metrics uses and pages the
 * sorted list by offset; the tree view stays the keyset-paged one.
 */
export function registerFullestRoutes(app: Hono, data: ServeData): void {
  const read = async (params: Record<string, string | undefined>) => {
    const namespace = optionalText(params.namespace);
    const limit = pageLimit(params.limit);
    const offset = params.offset === undefined || params.offset === "" ? 0 : Number(params.offset);
    if (!Number.isSafeInteger(offset) || offset < 0 || !/^\d+$/.test(params.offset ?? "0")) throw InvalidInputError.of("offset", "must be a whole number");
    const sorted = fullestFirst(await data.subnetMetrics(namespace === undefined ? {} : { namespace }));
    return { namespace, limit, offset, total: sorted.length, subnets: sorted.slice(offset, offset + limit) };
  };
  app.get("/fullest", async (c) => c.html(fullestPage(await read(c.req.query()))));
  app.get("/api/v1/fullest", async (c) => {
    const { total, subnets } = await read(c.req.query());
    return c.json({ total, subnets });
  });
}
