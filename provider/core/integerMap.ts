/**
 * A map from integers in [0, 2^53) to int32 values, in two typed arrays (open addressing, linear
 * probing): 12 bytes a slot, at most 2 slots an entry, where a `Map` of numbers costs ~40 bytes an
 * entry and a heap number for keys over 2^31. A snapshot check keeps one entry per allocation id
 * and per IPv4 address (issue 25: 1M of each).
 */
export class IntegerMap {
  private keys: Float64Array;
  private values: Int32Array;
  private count = 0;

  constructor(capacity = 16) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.keys = new Float64Array(size).fill(-1);
    this.values = new Int32Array(size);
  }

  get size(): number {
    return this.count;
  }

  /** The value of `key`, or -1 when it has none (values stored are expected to be ≥ 0). */
  get(key: number): number {
    const slot = this.slotOf(key);
    return this.keys[slot] === key ? this.values[slot]! : -1;
  }

  has(key: number): boolean {
    return this.keys[this.slotOf(key)] === key;
  }

  set(key: number, value: number): void {
    if (!(Number.isSafeInteger(key) && key >= 0)) throw new RangeError(`IntegerMap keys are integers in [0, 2^53): ${key}`);
    let slot = this.slotOf(key);
    if (this.keys[slot] !== key) {
      if ((this.count + 1) * 2 > this.keys.length) {
        this.grow();
        slot = this.slotOf(key);
      }
      this.keys[slot] = key;
      this.count += 1;
    }
    this.values[slot] = value;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  private slotOf(key: number): number {
    const mask = this.keys.length - 1;
    // Mix both halves (keys may differ only above bit 32: a subnet's index times 2^32 plus an address).
    const high = Math.floor(key / 4294967296);
    let hash = Math.imul((key >>> 0) ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b);
    hash ^= hash >>> 13;
    hash = Math.imul(hash, 0xc2b2ae35);
    hash ^= hash >>> 16;
    let slot = hash & mask;
    while (this.keys[slot] !== -1 && this.keys[slot] !== key) slot = (slot + 1) & mask;
    return slot;
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Float64Array(keys.length * 2).fill(-1);
    this.values = new Int32Array(keys.length * 2);
    for (let i = 0; i < keys.length; i += 1) {
      const key = keys[i]!;
      if (key === -1) continue;
      const slot = this.slotOf(key);
      this.keys[slot] = key;
      this.values[slot] = values[i]!;
    }
  }
}
