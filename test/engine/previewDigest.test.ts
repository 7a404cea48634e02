import { expect, it } from "vitest";
import { previewDigest, type StepStates } from "../../harness/engine/previewDigest.js";
import type { Step } from "../../harness/engine/index.js";
import type { ResourceState } from "../../harness/engine/checkpoint.js";

// The modelled engine's `pulumi preview --json` (PreviewDigest, as ShowPreviewDigest builds it), as a pure function.
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = { [SIG]: "1b47061264138c4ac30d75fd1eb44270", value: "hunter2" };
const urn = (name: string) => `urn:pulumi:dev::p::pulumi-nodejs:dynamic/ipam:IpAllocation::${name}`;
const state = (name: string, extra: Partial<ResourceState> = {}): ResourceState => ({ urn: urn(name), custom: true, type: "pulumi-nodejs:dynamic/ipam:IpAllocation", inputs: { count: 2, tags: { token: SECRET } }, outputs: { addresses: ["10.0.0.1"], note: [SECRET] }, ...extra });

it("shows steps as the CLI's digest does: sames hidden, old state with outputs, new state with inputs only, secrets as [secret]", () => {
  const steps: Step[] = [
    { urn: "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev", type: "pulumi:pulumi:Stack", name: "p-dev", op: "same" },
    { urn: urn("same"), type: "t", name: "same", op: "same" },
    { urn: urn("web"), type: "t", name: "web", op: "update" },
    { urn: urn("db"), type: "t", name: "db", op: "replace", replaces: ["address"] },
    { urn: urn("old"), type: "t", name: "old", op: "delete" },
  ];
  const states = new Map<Step, StepStates>([
    [steps[2]!, { old: state("web", { id: "7" }), new: state("web", { outputs: {} }) }],
    [steps[3]!, { old: state("db", { id: "8" }), new: state("db", { outputs: {} }) }],
    [steps[4]!, { old: state("old", { id: "9" }) }],
  ]);
  const digest = previewDigest({ steps, states, config: { "ipam:databaseUrl": "postgres://u:pw@h/db", "p:size": "2" }, secretKeys: ["ipam:databaseUrl"], messages: ["warning: web: careful"] });
  expect(digest.config).toEqual({ "ipam:databaseUrl": "[secret]", "p:size": "2" });
  expect(digest.steps!.map((s) => s.op)).toEqual(["same", "update", "replace", "delete"]);
  const [, update, replace, remove] = digest.steps!;
  expect(update).toMatchObject({ oldState: { id: "7", outputs: { addresses: ["10.0.0.1"], note: ["[secret]"] } }, newState: { id: "7", inputs: { count: 2, tags: { token: "[secret]" } } } });
  expect(update!.newState).not.toHaveProperty("outputs");
  expect(replace).toMatchObject({ replaceReasons: ["address"], newState: { inputs: { count: 2 } } });
  expect(replace!.newState).not.toHaveProperty("id");
  expect(remove).not.toHaveProperty("newState");
  expect(digest.changeSummary).toEqual({ same: 2, update: 1, replace: 1, delete: 1 });
  expect(digest.diagnostics).toEqual([{ severity: "warning", message: "web: careful" }]);
  expect(JSON.stringify(digest)).not.toMatch(/hunter2|pw@/);
});
