/**
 * A running hash of the simulation's event trace, built from numbers (no strings on the hot
 * path). Two runs of one seed must end with the same hash; any difference is nondeterminism.
 */
export class TraceHash {
  private high = 0x811c9dc5;
  private low = 0x01000193;

  add(...values: number[]): void {
    for (const value of values) {
      // Quantize to microseconds so that the hash sees the same thing the run did.
      const word = Math.round(value * 1000) | 0;
      this.high = Math.imul(this.high ^ word, 0x01000193) >>> 0;
      this.low = Math.imul(this.low ^ (word >>> 16) ^ this.high, 0x5bd1e995) >>> 0;
    }
  }

  hex(): string {
    return this.high.toString(16).padStart(8, '0') + this.low.toString(16).padStart(8, '0');
  }
}
