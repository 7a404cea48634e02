import { describe, expect, it } from "vitest";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { failure } from "../helpers/failure.js";

// PostgreSQL reads a bare name in ORDER BY as the output column first: `SELECT ordinal::text AS
// ordinal ... ORDER BY ordinal` sorts the text ('1000000000' before '999999999'). 59.154.202.0 is
// ordinal 1,000,000,000, so a parent around it holds ordinals of 9 and 10 digits, and 10.60.x
// children's texts sort 10.60.10.0 before 10.60.2.0.
const context = useTestIpam("addrorder");

describe("what the store lists and looks up goes by address, not by text", () => {
  it("a free child block starting at a 10-digit ordinal is found (the block below it sorted higher as text)", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "59.154.0.0/16", namespace: "order-blocks", childrenOnly: true });
    expect((await ipam.createSubnet({ parentId: parent.id, cidr: "59.154.202.0/24" })).cidr).toBe("59.154.202.0/24");
    // 59.154.203.0/24 is its own free block now, with free blocks of 9-digit ordinals below it.
    expect((await ipam.createSubnet({ parentId: parent.id, cidr: "59.154.203.0/24" })).cidr).toBe("59.154.203.0/24");
    expect((await ipam.createSubnet({ parentId: parent.id, cidr: "59.154.204.0/22" })).cidr).toBe("59.154.204.0/22");
  });

  it("a child refused over direct allocations names the lowest twenty of them", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "59.154.0.0/16", namespace: "order-conflict" });
    const below = Array.from({ length: 16 }, (_, i) => `59.154.201.${240 + i}`);
    const above = Array.from({ length: 16 }, (_, i) => `59.154.202.${i}`);
    for (const address of [...above, ...below]) await ipam.allocate({ subnetId: parent.id, owner: "o", address });
    const conflict = await failure(ipam.createSubnet({ parentId: parent.id, cidr: "59.154.200.0/22" }));
    expect(conflict).toMatchObject({ code: "CONFLICT", field: "cidr" });
    expect(conflict.addresses).toEqual([...below, ...above.slice(0, 4)]);
  });

  it("a parent that still has children names its first five by address", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.60.0.0/16", namespace: "order-children", childrenOnly: true });
    for (const third of [100, 20, 4, 10, 3, 2]) await ipam.createSubnet({ parentId: parent.id, cidr: `10.60.${third}.0/24` });
    const inUse = await failure(ipam.deleteSubnet(parent.id));
    expect(inUse).toMatchObject({ code: "SUBNET_IN_USE", examples: [2, 3, 4, 10, 20].map((third) => expect.stringContaining(`(10.60.${third}.0/24)`)) });
  });
});
