import { describe, expect, it } from "vitest";
import { parseAddress, parseAddressAfter, parseSubnetCidr, parseSubnetCidrAfter } from "../../provider/core/address.js";

/** What a parser returns or the reasons it throws, so the shortcut and the full parse compare as values. */
const outcome = (parse: () => unknown) => {
  try {
    return { ok: parse() };
  } catch (error) {
    return { issues: (error as { issues: unknown }).issues };
  }
};

describe("parsing the next address of a list (snapshot validation's shortcut)", () => {
  const cases: [string, string][] = [
    ["10.0.0.1", "10.0.0.2"], // the next address: taken from its formatted text
    ["10.0.0.1", "10.0.0.3"], // not the next: parsed
    ["10.0.0.1", "10.0.0.02"], // leading zero: refused as parseAddress refuses it
    ["10.0.0.255", "10.0.1.0"],
    ["255.255.255.255", "0.0.0.0"],
    ["2001:db8::1:9", "2001:db8::1:a"],
    ["2001:db8::1:9", "2001:db8::1:A"], // not canonical: parsed, and returned canonical
    ["2001:db8::1:9", "2001:db8:0:0:0:0:1:a"],
    ["2001:db8::ffff", "2001:db8::1:0"],
    ["::fffe:ffff:ffff", "::ffff:0:0"], // the next is IPv4-mapped: refused as parseAddress refuses it
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::"],
    ["2001:db8::1", "10.0.0.1"],
    ["2001:db8::1", "2001:db8::2%eth0"],
  ];
  it.each(cases)("after %s, %s gives exactly what parseAddress gives", (before, text) => {
    const previous = parseAddress(before, "f");
    expect(outcome(() => parseAddressAfter(text, "f", previous))).toEqual(outcome(() => parseAddress(text, "f")));
  });

  const cidrCases: [string, string][] = [
    ["2001:db8:0:1::/64", "2001:db8:0:2::/64"],
    ["2001:db8:0:1::/64", "2001:db8:0:3::/64"],
    ["2001:db8:0:1::/64", "2001:db8:0:2::/63"],
    ["2001:db8:0:1::/64", "2001:DB8:0:2::/64"],
    ["10.0.0.0/24", "10.0.1.0/24"],
    ["10.0.0.0/24", "10.0.1.1/24"],
    ["::fffe:0:0/96", "::ffff:0:0/96"], // the next block is the IPv4-mapped range: refused
    ["255.255.255.0/24", "0.0.0.0/24"],
  ];
  it.each(cidrCases)("after %s, %s gives exactly what parseSubnetCidr gives", (before, text) => {
    const previous = parseSubnetCidr(before, "cidr");
    expect(outcome(() => parseSubnetCidrAfter(text, "cidr", previous))).toEqual(outcome(() => parseSubnetCidr(text, "cidr")));
  });
});
