import { parseCidr } from "../core/address.js";
import { InvalidInputError, NotFoundError } from "../core/errors.js";
import type { Subnet } from "../core/types.js";
import type { Ipam } from "../store/Ipam.js";

/**
 * Operators think in CIDRs, the core in ids: accept either. A CIDR is canonicalized by the core's
 * parser and must name exactly one subnet (use --namespace when the same CIDR exists in several).
 * @throws InvalidInputError (field `subnet`), NotFoundError
 */
export async function resolveSubnet(ipam: Ipam, reference: string, namespace?: string): Promise<Subnet> {
  if (/^\d+$/.test(reference)) return ipam.getSubnet(reference);
  const cidr = parseCidr(reference, "subnet").text;
  const matches = (await ipam.listSubnets(namespace === undefined ? {} : { namespace })).filter((subnet) => subnet.cidr === cidr);
  if (matches.length === 0) throw new NotFoundError("subnet", namespace === undefined ? cidr : `${cidr} in namespace "${namespace}"`);
  if (matches.length > 1) {
    const where = matches.map((subnet) => `"${subnet.namespace}" (id ${subnet.id})`).join(", ");
    throw InvalidInputError.of("subnet", `${cidr} exists in several namespaces: ${where}; add --namespace or use the id`);
  }
  return matches[0]!;
}

/**
 * The id to hand to the core: an id as given (the core validates it, in the same order as every
 * other field), a CIDR resolved to its subnet's id.
 * @throws InvalidInputError, NotFoundError for a CIDR that names no single subnet
 */
export async function subnetIdOf(ipam: Ipam, reference: string, namespace?: string): Promise<string> {
  return /^\d+$/.test(reference) ? reference : (await resolveSubnet(ipam, reference, namespace)).id;
}
