import { describe, expect, it } from "vitest";
import { applyReplaceOnChanges, deepEqual, makeUrn, processIgnoreChanges } from "../../harness/engine/stepGenerator.js";

// The modelled engine's pure rules (harness/engine/stepGenerator.ts), each from pulumi/pulumi step_generator.go.
describe("engine rules", () => {
  it("URNs: a child of the root stack has no parent type; a component's child is qualified by it", () => {
    const stack = makeUrn("dev", "proj", "", "pulumi:pulumi:Stack", "proj-dev");
    expect(makeUrn("dev", "proj", stack, "pulumi-nodejs:dynamic/ipam:Subnet", "lan")).toBe("urn:pulumi:dev::proj::pulumi-nodejs:dynamic/ipam:Subnet::lan");
    const component = makeUrn("dev", "proj", stack, "my:Net", "net");
    expect(makeUrn("dev", "proj", component, "pulumi-nodejs:dynamic/ipam:Subnet", "lan")).toBe("urn:pulumi:dev::proj::my:Net$pulumi-nodejs:dynamic/ipam:Subnet::lan");
  });

  it("processIgnoreChanges takes ignored values from the old inputs, and drops them when the old inputs lack them", () => {
    const news = { cidr: "10.0.0.0/24", tags: { a: "new" }, description: "new" };
    expect(processIgnoreChanges(news, { tags: { a: "old" }, description: "old" }, ["tags"])).toEqual({ cidr: "10.0.0.0/24", tags: { a: "old" }, description: "new" });
    expect(processIgnoreChanges(news, { description: "old" }, ["tags", "description"])).toEqual({ cidr: "10.0.0.0/24", description: "old" });
    expect(processIgnoreChanges({ tags: { a: "new", b: "x" } }, { tags: { a: "old" } }, ["tags.a"])).toEqual({ tags: { a: "old", b: "x" } });
    expect(news.tags).toEqual({ a: "new" }); // inputs are copied, never changed
  });

  it("processIgnoreChanges: a path that cannot be reset is left as given, with an info message, not an error", () => {
    const said: string[] = [];
    expect(processIgnoreChanges({ cidr: "x" }, { tags: { a: "old" } }, ["tags.a"], (m) => said.push(m))).toEqual({ cidr: "x" });
    expect(said).toEqual(['cannot ignore changes in added or removed elements of the path: "tags.a"']);
  });

  it("applyReplaceOnChanges adds only keys the provider reported as changed", () => {
    expect(applyReplaceOnChanges([], [], ["tags"])).toEqual([]); // the SDK's dynamic-provider host reports none
    expect(applyReplaceOnChanges([], ["tags", "count"], ["tags"])).toEqual(["tags"]);
    expect(applyReplaceOnChanges(["cidr"], ["tags.env"], ["tags"])).toEqual(["cidr", "tags.env"]);
    expect(applyReplaceOnChanges([], ["count"], ["*"])).toEqual(["count"]);
  });

  it("deepEqual ignores key order, not values", () => {
    expect(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
  });
});
