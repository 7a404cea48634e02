import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { captureResources } from "../../harness/serializedProviders.js";
import { IpAllocation, Subnet } from "../../sdk/index.js";

// Issue 25, scenario 13: the SDK formats a stack trace for each of four promises per property of a
// resource it registers (runtime/debuggable.ts `debuggablePromise`); under the TypeScript runner
// every frame is source-mapped. Our resources register with no frames captured for those promises
// (sdk/quietDynamicResource.ts); these tests count the frames the SDK asks to be formatted.

let framesFormatted = 0;
const original = Error.prepareStackTrace;

beforeEach(() => {
  framesFormatted = 0;
  Error.prepareStackTrace = (error, frames) => {
    // Not counted: the resource's own source position (resource.ts `Resource.callsites`), which the
    // SDK captures once per resource with its own frame limit and sends to the engine; it stays.
    if (frames[0]?.getFunctionName() !== "callsites") framesFormatted += frames.length;
    return original ? original(error, frames) : `${String(error)}\n${frames.map((f) => `    at ${String(f)}`).join("\n")}`;
  };
});
afterEach(() => {
  Error.prepareStackTrace = original;
});

/** Frames formatted while `construct` runs (the SDK's registration starts inside the constructor). */
function framesDuring(construct: () => void): number {
  const before = framesFormatted;
  construct();
  return framesFormatted - before;
}

describe("registering our resources", () => {
  it("formats no stack frames, where a plain dynamic resource with as many properties formats dozens", async () => {
    const limit = Error.stackTraceLimit;
    const counts: Record<string, number> = {};
    await captureResources(() => {
      class Plain extends pulumi.dynamic.Resource {}
      const provider: pulumi.dynamic.ResourceProvider = { create: async () => ({ id: "1", outs: {} }) };
      const props = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`p${i}`, undefined]));
      // The control: the SDK's own cost, which the counter must see for the checks below to mean anything.
      counts.plain = framesDuring(() => new Plain(provider, "plain", props, undefined, "test"));
      let subnet: Subnet | undefined;
      counts.subnet = framesDuring(() => (subnet = new Subnet("net", { cidr: "10.0.0.0/24" })));
      counts.allocation = framesDuring(() => new IpAllocation("web", { subnetId: subnet!.subnetId }));
    });
    expect(counts.plain).toBeGreaterThanOrEqual(60);
    expect(counts.subnet).toBe(0);
    expect(counts.allocation).toBe(0);
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it("still registers every property (the outputs resolve from what the engine answers)", async () => {
    const resources = await captureResources(() => {
      const subnet = new Subnet("net", { cidr: "10.0.0.0/24" });
      new IpAllocation("web", { subnetId: subnet.subnetId, count: 2, tags: { team: "a" } });
    });
    const web = resources.find((r) => r.name === "web")!;
    expect(web.inputs).toMatchObject({ subnetId: "net-id", count: 2, tags: { team: "a" }, __owner: "proj/dev/web" });
    expect(String(web.inputs.__provider)).toContain('"pulumi-ipam/dynamic"');
  });

  it("an error thrown while registering keeps its message and gets the stack of where it surfaced; the frame limit is restored", async () => {
    const limit = Error.stackTraceLimit;
    const thrown: unknown[] = [];
    await captureResources(() => {
      // Ours, refused before the SDK is called; and the SDK's own (a resource needs a name), thrown inside its constructor.
      for (const construct of [
        () => new IpAllocation("web", { subnetId: "1" }, { deletedWith: new Subnet("net", { cidr: "10.0.0.0/24" }) }),
        () => new IpAllocation("", { subnetId: "1" }),
      ]) {
        try {
          construct();
        } catch (error) {
          thrown.push(error);
        }
      }
    });
    expect(thrown).toHaveLength(2);
    const [ours, sdks] = thrown as Error[];
    expect(ours!.message).toContain('IpAllocation "web": the deletedWith option is not supported');
    expect(sdks!.message).toContain("Missing resource name");
    for (const error of [ours!, sdks!]) {
      expect(error).toBeInstanceOf(Error);
      expect(error.stack).toContain(error.message.split("\n")[0]);
      expect(error.stack).toMatch(/registrationStacks\.test\.ts/); // the user's frame, not an empty stack
    }
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
