import type { Hono } from "hono";
import { optionalId, optionalText, pageLimit } from "../requestParams.js";
import type { ServeData } from "../serveData.js";
import { historyPage } from "../views/historyPage.js";

/** The audit history filtered by subnet, address, owner, allocation and time (`Ipam.history`). */
export function registerHistoryRoutes(app: Hono, data: ServeData): void {
  const read = async (params: Record<string, string | undefined>) => {
    const filter = {
      subnet: optionalId("subnet", params.subnet),
      address: optionalText(params.address),
      owner: optionalText(params.owner),
      allocation: optionalId("allocation", params.allocation),
      since: optionalText(params.since),
      limit: pageLimit(params.limit),
    };
    const before = optionalId("before", params.before);
    const page = await data.history({
      ...(filter.subnet === undefined ? {} : { subnetId: filter.subnet }),
      ...(filter.address === undefined ? {} : { address: filter.address }),
      ...(filter.owner === undefined ? {} : { owner: filter.owner }),
      ...(filter.allocation === undefined ? {} : { allocationId: filter.allocation }),
      ...(filter.since === undefined ? {} : { since: filter.since }),
      ...(before === undefined ? {} : { before }),
      limit: filter.limit,
    });
    return { filter, ...page };
  };
  app.get("/history", async (c) => c.html(historyPage(await read(c.req.query()))));
  app.get("/api/v1/history", async (c) => {
    const { events, next } = await read(c.req.query());
    return c.json({ events, next });
  });
}
