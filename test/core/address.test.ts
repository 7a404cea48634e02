import { describe, expect, it } from "vitest";
import { formatAddress, parseAddress, parseCidr } from "../../provider/core/address.js";
import { InvalidInputError } from "../../provider/core/errors.js";

function rejection(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error("expected InvalidInputError");
}

describe("parseAddress", () => {
  it("canonicalizes IPv6 to RFC 5952", () => {
    expect(parseAddress("2001:DB8:0:0:1:0:0:1", "a").text).toBe("2001:db8::1:0:0:1");
    expect(parseAddress("2001:db8:0000::0001", "a").text).toBe("2001:db8::1");
    expect(parseAddress("0:0:0:0:0:0:0:0", "a").text).toBe("::");
    expect(parseAddress("1:0:0:2:0:0:0:3", "a").text).toBe("1:0:0:2::3");
  });

  it("keeps IPv4 dotted quads and their integer value", () => {
    expect(parseAddress("10.1.2.3", "a")).toEqual({ version: 4, value: 0x0a010203n, text: "10.1.2.3" });
  });

  it.each([
    ["010.0.0.1", "leading zeros"],
    ["1.2.3", "four decimal octets"],
    ["1.2.3.256", "four decimal octets"],
    [" 1.2.3.4", "four decimal octets"],
    ["0x1.2.3.4", "four decimal octets"],
    ["fe80::1%eth0", "zone ids"],
    ["::ffff:10.0.0.1", "IPv4-mapped"],
    ["10.0.0.0/24", "not a CIDR"],
    ["", "must not be empty"],
    ["1::2::3", "not a valid IPv6"],
  ])("refuses %j (%s)", (input, reason) => {
    const error = rejection(() => parseAddress(input, "gateway"));
    expect(error.issues[0]?.field).toBe("gateway");
    expect(error.message).toContain(reason);
  });

  it("refuses non-strings with the type named", () => {
    expect(rejection(() => parseAddress(42, "address")).message).toBe("address: must be an IP address string, got number");
    expect(rejection(() => parseAddress(Number.NaN, "address")).message).toContain("got NaN");
    expect(rejection(() => parseAddress(null, "address")).message).toContain("got null");
  });
});

describe("parseCidr", () => {
  it("returns the integer range and size", () => {
    const cidr = parseCidr("192.168.4.0/22", "cidr");
    expect(cidr).toMatchObject({ version: 4, prefixLength: 22, size: 1024n, text: "192.168.4.0/22" });
    expect(formatAddress(4, cidr.last)).toBe("192.168.7.255");
    expect(parseCidr("2001:DB8::/64", "cidr")).toMatchObject({ version: 6, size: 2n ** 64n, text: "2001:db8::/64" });
  });

  it("refuses host bits and names the network instead of masking silently", () => {
    expect(rejection(() => parseCidr("10.0.0.1/24", "cidr")).message).toBe("cidr: 10.0.0.1/24 has host bits set; the network is 10.0.0.0/24");
    expect(rejection(() => parseCidr("2001:db8::1/64", "cidr")).message).toContain("the network is 2001:db8::/64");
  });

  it.each(["10.0.0.0/0", "10.0.0.0/7", "10.0.0.0/33", "::/0", "::/129", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0.0", "10.0.0.0/"])(
    "refuses %j naming the field",
    (input) => {
      expect(rejection(() => parseCidr(input, "cidr")).issues[0]?.field).toBe("cidr");
    },
  );
});
