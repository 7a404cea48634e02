import type { ProviderHost } from "../providerHost.js";
import { annotateSecrets, stripSecrets } from "./secrets.js";

type Props = Record<string, unknown>;

/**
 * The engine's side of a provider that answered Configure with `acceptSecrets: false`, as the SDK's
 * dynamic-provider host does (pkg/resource/plugin/provider_plugin.go): every request carries plain
 * values (MarshalProperties, `KeepSecrets: false`), and every answer is re-marked by `annotateSecrets`
 * against what was sent, on Check, Create, Read (inputs and state) and Update. Diff and Delete answer
 * no properties.
 */
export function secretsUnawarePlugin(host: ProviderHost): ProviderHost {
  return {
    ...host,
    async check(urn, olds, news) {
      const res = await host.check(urn, stripSecrets(olds), stripSecrets(news));
      annotateSecrets(res.inputs, news); // provider_plugin.go, Check
      return res;
    },
    diff: (urn, id, olds, news) => host.diff(urn, id, stripSecrets(olds), stripSecrets(news)),
    async create(urn, props, preview) {
      const res = await host.create(urn, stripSecrets(props), preview);
      annotateSecrets(res.properties, props); // provider_plugin.go, Create
      return res;
    },
    async read(urn, id, props, inputs) {
      const res = await host.read(urn, id, stripSecrets(props), stripSecrets(inputs));
      annotateSecrets(res.inputs, inputs); // provider_plugin.go, Read: newInputs against req.Inputs
      annotateSecrets(res.properties, props); // ... and newState against req.State
      return res;
    },
    async update(urn, id, olds, news) {
      const res = await host.update(urn, id, stripSecrets(olds), stripSecrets(news));
      annotateSecrets(res.properties, news); // provider_plugin.go, Update: outs against req.NewInputs
      return res;
    },
    delete: (urn, id, props) => host.delete(urn, id, stripSecrets(props)),
  };
}

export type { Props };
