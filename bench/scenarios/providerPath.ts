import type { ScenarioResult } from "../scenarioResult.js";

/**
 * 7. Creates/s through the SDK's dynamic-provider host vs direct core calls. Needs the gRPC host
 * harness (test/helpers/providerHost.ts), which is not on this branch yet.
 */
export async function providerPath(): Promise<ScenarioResult> {
  return {
    id: "7-provider-path",
    title: "Provider path: creates/s through the dynamic-provider host (gRPC) vs direct core calls, host peak RSS",
    figures: {},
    checks: [],
    notMeasured: "not measured: provider host harness (test/helpers/providerHost.ts) not merged yet",
  };
}
