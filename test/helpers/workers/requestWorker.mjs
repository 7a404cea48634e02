// A separate OS process that opens an Ipam, reports ready, waits for "go", then sends the given
// requests one after another and reports each outcome. Failures are also printed the way an
// application would log them (console.error of the error, JSON of the error), so a test can check
// what a process prints.
import { Ipam } from "../../../dist/provider/store/index.js";

const config = JSON.parse(process.argv[2]);
const outcomes = [];
let ipam = null;
try {
  ipam = await Ipam.open({ databaseUrl: config.databaseUrl, migrate: config.migrate ?? false, maxConnections: config.connections ?? 2, ...config.options });
} catch (error) {
  console.error("open failed:", error);
  console.log(JSON.stringify({ openError: error }));
  outcomes.push({ method: "open", error: { code: error?.code, message: String(error?.message), retryable: error?.retryable } });
}
process.send({ type: "ready" });
await new Promise((resolve) => process.once("message", resolve));

for (const { method, args } of ipam === null ? [] : config.requests) {
  try {
    outcomes.push({ method, value: await ipam[method](...args) });
  } catch (error) {
    console.error(`${method} failed:`, error);
    console.log(JSON.stringify({ method, error }));
    outcomes.push({ method, error: { code: error?.code, message: String(error?.message), retryable: error?.retryable } });
  }
}
process.send({ type: "done", report: outcomes }, () => void (ipam?.close() ?? Promise.resolve()).finally(() => process.exit(0)));
