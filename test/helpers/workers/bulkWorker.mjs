// A separate OS process making one big bulk allocation (issue 25: written in chunks), so a test can
// kill it between chunks the way a CI runner dies mid-deployment.
import { Ipam } from "../../../dist/provider/store/index.js";

const config = JSON.parse(process.argv[2]);
const ipam = await Ipam.open({ databaseUrl: config.databaseUrl, maxConnections: 1, migrate: false });
await ipam.getSubnet(config.subnetId);
process.send({ type: "ready" });
await new Promise((resolve) => process.once("message", resolve));
try {
  const { allocation } = await ipam.allocate({
    subnetId: config.subnetId,
    owner: config.owner,
    strategy: "random",
    count: config.count,
    idempotencyKey: config.idempotencyKey,
  });
  process.send({ type: "done", report: { id: allocation.id, addresses: allocation.addresses.length } });
} catch (error) {
  process.send({ type: "done", report: { error: String(error?.code ?? error) } });
}
await ipam.close();
