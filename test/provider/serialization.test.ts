import { describe, expect, it } from "vitest";
import { serializedProviders } from "../../harness/serializedProviders.js";

describe("serialized __provider", () => {
  it("is small, holds only the implementation path, and no URL or password", async () => {
    process.env.IPAM_DATABASE_URL = "postgres://u:SENTINEL-PW-123@127.0.0.1:1/x";
    const { subnet, allocation, resources } = await serializedProviders();
    for (const text of [subnet, allocation]) {
      expect(text.length).toBeGreaterThan(100);
      expect(text.length).toBeLessThan(20_000);
      expect(text).toContain("dist/provider/dynamic/index.js");
      expect(text).not.toMatch(/postgres:\/\//);
      expect(text).not.toContain("SENTINEL-PW-123");
    }
    const web = resources.find((r) => r.name === "web")!;
    expect(web.inputs.__owner).toBe("proj/dev/web");
  });
});
