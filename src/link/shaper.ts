/**
 * vtund's traffic shaper (`speed`): limits what a side sends, in kbit/s. vtund
 * allows `kbit/8*1024 + 400` bytes per second of encoded frames; this is the
 * same rate as a token bucket, so a burst up to one bucket passes at once and
 * the device is simply not read while the bucket is empty.
 */

/** Bytes per second vtund allows for `kbit` (its formula, kept for interop-equal rates). */
export function shaperRate(kbit: number): number {
  return (kbit / 8) * 1024 + 400;
}

/** A token bucket over encoded bytes sent. */
export class Shaper {
  /** Bytes per second. */
  readonly rate: number;
  /** Largest burst, bytes: 1/10 s of traffic, at least two full frames. */
  readonly burst: number;
  private tokens: number;
  private last: number;

  constructor(kbit: number, private readonly now: () => number = () => performance.now()) {
    this.rate = shaperRate(kbit);
    this.burst = Math.max(this.rate / 10, 2 * 2150);
    this.tokens = this.burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }

  /** True when a frame may be sent now. */
  allows(): boolean {
    this.refill();
    return this.tokens > 0;
  }

  /** Counts `bytes` as sent (the bucket may go negative: the next frames wait longer). */
  consume(bytes: number): void {
    this.tokens -= bytes;
  }

  /** Milliseconds until sending is allowed again (0 if now). */
  msUntilAllowed(): number {
    this.refill();
    return this.tokens > 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate) + 1;
  }
}
