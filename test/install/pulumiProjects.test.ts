import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { pulumiProjectErrors } from "../helpers/pulumiProject.js";

const root = resolve(import.meta.dirname, "..", "..");

function projectFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules") return [];
    const path = join(directory, entry.name);
    return entry.isDirectory() ? projectFiles(path) : entry.name === "Pulumi.yaml" ? [path] : [];
  });
}

describe("Pulumi.yaml under Pulumi's project rules", () => {
  const files = projectFiles(join(root, "examples"));

  it("finds every example project", () => {
    expect(files.map((file) => relative(root, file)).sort()).toEqual(
      ["child-subnets", "ipv6", "multi-stack/app", "multi-stack/network", "quickstart"].map((name) => `examples/${name}/Pulumi.yaml`),
    );
  });

  for (const file of files) {
    it(`${relative(root, file)} loads`, () => {
      expect(pulumiProjectErrors(readFileSync(file, "utf8"))).toEqual([]);
    });
  }

  // The rules themselves, each on the case the loader refuses (and on one it accepts), so a checker that
  // accepted everything would fail here.
  const project = (config: string) => `name: demo\nruntime: nodejs\nconfig:\n${config}`;
  it.each([
    ["  ipam:databaseUrl:\n    secret: true\n", "Configuration key 'ipam:databaseUrl' is namespaced and must provide an attribute 'value'"],
    ["  ipam:databaseUrl:\n    type: string\n    value: x\n", "Configuration key 'ipam:databaseUrl' is not namespaced by the project and should not define a type"],
    ["  ipam:databaseUrl:\n    default: x\n", "Configuration key 'ipam:databaseUrl' is not namespaced by the project and should not define a default value"],
    ["  size:\n    type: integer\n    default: big\n", "The default value specified for configuration key 'size' is not of the expected type 'integer'"],
    ["  zones:\n    type: array\n", "The configuration key 'zones' declares an array but does not specify the underlying type via the 'items' attribute"],
    ["  size:\n    default: 1\n    value: 2\n", "project config 'size' cannot have both a 'default' and 'value' attribute"],
    ["  size:\n    type: integer\n    secrett: true\n", "#/config/size: Unrecognized key: \"secrett\""],
  ])("refuses %j", (config, error) => {
    expect(pulumiProjectErrors(project(config)).join("\n")).toContain(error);
  });
  it.each([
    ["  aws:region: us-west-2\n"],
    ["  ipam:databaseUrl:\n    value: postgres://db/ipam\n"],
    ["  demo:size:\n    type: integer\n    default: 3\n    secret: true\n"],
    ["  zones:\n    type: array\n    items:\n      type: string\n    default: [a, b]\n"],
  ])("accepts %j", (config) => {
    expect(pulumiProjectErrors(project(config))).toEqual([]);
  });
  it("needs a name and a runtime, and parses as YAML", () => {
    expect(pulumiProjectErrors("runtime: nodejs\n")).toEqual(["project is missing a 'name' attribute"]);
    expect(pulumiProjectErrors("name: demo\n").join()).toContain("#/runtime");
    expect(pulumiProjectErrors("name: demo\nruntime: nodejs\ndescription: App stack: allocates\n").join()).toContain("could not unmarshal");
  });
});
