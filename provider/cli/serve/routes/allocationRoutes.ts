import type { Hono } from "hono";
import type { ServeData } from "../serveData.js";
import { allocationPage } from "../views/allocationPage.js";

const EVENTS_SHOWN = 20;

/** One allocation with its subnet and latest events. */
export function registerAllocationRoutes(app: Hono, data: ServeData): void {
  const read = async (id: string) => {
    const allocation = await data.getAllocation(id);
    const subnet = await data.getSubnet(allocation.subnetId);
    const history = await data.history({ allocationId: allocation.id, limit: EVENTS_SHOWN });
    return { allocation, subnet, history };
  };
  app.get("/allocations/:id", async (c) => {
    const { allocation, subnet, history } = await read(c.req.param("id"));
    return c.html(allocationPage(allocation, subnet, history.events));
  });
  app.get("/api/v1/allocations/:id", async (c) => {
    const { allocation, subnet, history } = await read(c.req.param("id"));
    return c.json({ allocation, subnet, events: history.events });
  });
}
