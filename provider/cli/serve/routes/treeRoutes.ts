import type { Hono } from "hono";
import { InvalidInputError } from "../../../core/errors.js";
import { inTreeOrder } from "../../subnetTree.js";
import { heldAddresses } from "../heldAddresses.js";
import { optionalId, optionalText, pageLimit } from "../requestParams.js";
import type { ServeData } from "../serveData.js";
import { TREE_SORTS, treePage, type TreeSort } from "../views/treePage.js";

/** The subnet tree a keyset page at a time (`usagePage`: a deep page costs what the first does). */
export function registerTreeRoutes(app: Hono, data: ServeData): void {
  const readPage = async (params: Record<string, string | undefined>) => {
    const namespace = optionalText(params.namespace);
    const after = optionalId("after", params.after);
    const limit = pageLimit(params.limit);
    const page = await data.usagePage(namespace === undefined ? {} : { namespace }, { limit, ...(after === undefined ? {} : { after }) });
    return { namespace, after, limit, ...page };
  };
  app.get("/", async (c) => {
    const params = c.req.query();
    const sort = (params.sort ?? "tree") as TreeSort;
    if (!TREE_SORTS.includes(sort)) throw InvalidInputError.of("sort", `must be one of ${TREE_SORTS.join(", ")}`);
    const { reports, ...page } = await readPage(params);
    return c.html(treePage({ ...page, sort, entries: inTreeOrder(reports) }));
  });
  app.get("/api/v1/subnets", async (c) => {
    const { reports, next } = await readPage(c.req.query());
    return c.json({ subnets: reports.map((report) => ({ ...report, held: heldAddresses(report.usage).toString(), heldAddresses: report.held ?? [] })), next });
  });
}
