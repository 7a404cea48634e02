import fc from "fast-check";

/**
 * The fast-check inputs of the hostile-input properties (issue 5 point 5), shared by the core test
 * (test/core/hostileProperties) and the provider test (test/provider/providerHostileProperties).
 */

/** Values no caller should send: wrong types, edge numbers, injection, unicode traps, near-miss addresses. */
export const junk = fc.oneof(
  fc.constantFrom<unknown>(
    null, undefined, Number.NaN, Number.POSITIVE_INFINITY, -1, 0, -0, 1.5, 2 ** 31, 2 ** 53, 1e308, true, "", " ", "\u0000", "\uD800",
    "__proto__", "'; DROP TABLE ipam.subnet; --", "010.0.0.1", "::ffff:10.0.0.1", "fe80::1%eth0", "10.0.0.1/24", "0.0.0.0/0", "9".repeat(40),
    10n, [], {}, [1, 2], "x".repeat(5000),
  ),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.integer(),
  fc.double(),
  fc.anything({ maxDepth: 2 }),
);
/** Characters that break naive code: quotes, escapes, wildcards, NUL, unpaired surrogates, emoji, bidi overrides. */
export const trap = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom("'", '"', "\\", "%", "_", "$1", "😀", "\u202E", "\u0301", "\r\n", "--", ";", "__proto__", "{{x}}") },
  { weight: 1, arbitrary: fc.constantFrom("\uD800", "\uDFFF", "\u0000") },
  { weight: 3, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
);
export const text = fc.oneof(fc.string({ unit: trap, maxLength: 60 }), fc.string({ unit: "binary", maxLength: 300 }), fc.string({ maxLength: 20 }));
export const tags = fc.oneof(fc.dictionary(fc.string({ unit: trap, maxLength: 40 }), text, { maxKeys: 70 }), junk);
export const either = <T>(valid: fc.Arbitrary<T>) => fc.oneof(valid, junk);

/** Stands for the fixture subnet's id in allocateRequest; the test swaps in the real one. */
export const SUBNET_PLACEHOLDER = "SUBNET";

/** Ipam.allocate input: every field optional, each either plausible or junk. */
export const allocateRequest = fc.record(
  {
    subnetId: fc.oneof(fc.constant(SUBNET_PLACEHOLDER), fc.constant("2147483647"), junk),
    owner: either(text),
    idempotencyKey: either(text),
    address: either(fc.oneof(fc.ipV4(), fc.ipV6(), fc.integer({ min: 0, max: 1023 }).map((n) => `10.0.${n >> 8}.${n & 255}`))),
    count: either(fc.integer({ min: -3, max: 70_000 })),
    strategy: either(fc.constantFrom("sequential", "random")),
    description: either(text),
    tags,
  },
  { requiredKeys: [] },
);

const anyCidr = fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`);

/** Ipam.createSubnet input. `cidr` defaults to any address with any prefix (mostly with host bits set). */
export function subnetRequest(cidr: fc.Arbitrary<string> = anyCidr) {
  const address = fc.oneof(fc.ipV4(), fc.ipV6());
  return fc.record(
    {
      cidr: either(cidr),
      namespace: either(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/)),
      gateway: either(address),
      allocationPools: either(fc.array(fc.record({ start: either(address), end: either(address) }), { maxLength: 70 })),
      reserved: either(fc.array(either(fc.oneof(address, anyCidr)), { maxLength: 260 })),
      description: either(text),
      tags,
    },
    { requiredKeys: [] },
  );
}
