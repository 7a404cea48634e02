import type { Hono } from "hono";
import { optionalId } from "../requestParams.js";
import { heldAddresses } from "../heldAddresses.js";
import type { ServeData } from "../serveData.js";
import { searchPage } from "../views/searchPage.js";
import { subnetPage } from "../views/subnetPage.js";

/** A subnet with its children, allocations and address map; a map cell's holders. */
export function registerSubnetRoutes(app: Hono, data: ServeData): void {
  const readSubnet = async (id: string, params: Record<string, string | undefined>) => {
    const childrenAfter = optionalId("children_after", params.children_after);
    const allocationsAfter = optionalId("allocations_after", params.allocations_after);
    const report = await data.usageReport(id);
    const children = await data.listChildren(id, { limit: 100, ...(childrenAfter === undefined ? {} : { after: childrenAfter }) });
    const allocations = await data.listAllocations({ subnetId: id }, { limit: 100, ...(allocationsAfter === undefined ? {} : { after: allocationsAfter }) });
    return { report, children: { ...children, after: childrenAfter }, allocations: { ...allocations, after: allocationsAfter } };
  };
  app.get("/subnets/:id", async (c) => {
    const id = c.req.param("id");
    const view = await readSubnet(id, c.req.query());
    return c.html(subnetPage({ ...view, map: await data.subnetMap(id) }));
  });
  app.get("/api/v1/subnets/:id", async (c) => {
    const { report, children, allocations } = await readSubnet(c.req.param("id"), c.req.query());
    return c.json({
      ...report,
      held: heldAddresses(report.usage).toString(),
      heldAddresses: report.held ?? [],
      children: { subnets: children.subnets, next: children.next },
      allocations: { allocations: allocations.allocations, next: allocations.next },
    });
  });
  app.get("/api/v1/subnets/:id/map", async (c) => c.json(await data.subnetMap(c.req.param("id"))));
  // A map cell: one holder opens its allocation; several are listed.
  app.get("/subnets/:id/cells/:first/:last", async (c) => {
    const { id, first, last } = c.req.param();
    const allocations = await data.allocationsInRange(id, first, last);
    if (allocations.length === 1) return c.redirect(`/allocations/${allocations[0]!.id}`, 302);
    const subnet = await data.getSubnet(id);
    return c.html(searchPage(first === last ? first : `${first}-${last}`, { subnets: [subnet], allocations }, `Addresses ${first === last ? first : `${first} to ${last}`}`));
  });
}
