/**
 * The highest of the last few samples of a rate that swings, within a time
 * window: what the queues sized in time (src/device/tun_queue.ts,
 * src/transport/unsent_limit.ts) take as a link's rate, so that one low
 * sample does not shrink a queue and drop what it holds, while a rate that
 * has really fallen is followed once its higher samples are older than the
 * window.
 */
export class RecentMax {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private next = 0;

  /** Keeps the last `samples` samples and counts those of the last `windowMs` milliseconds. */
  constructor(samples: number, private readonly windowMs: number) {
    this.values = new Float64Array(samples);
    this.times = new Float64Array(samples).fill(Number.NEGATIVE_INFINITY);
  }

  /** Records `value` taken at `nowMs` and returns the highest sample of the window (`value` at least). */
  add(value: number, nowMs: number): number {
    this.values[this.next] = value;
    this.times[this.next] = nowMs;
    this.next = (this.next + 1) % this.values.length;
    return this.max(nowMs);
  }

  /** The highest sample taken since `nowMs - windowMs`, or -Infinity for none. */
  max(nowMs: number): number {
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.values.length; i++) if (this.times[i]! >= nowMs - this.windowMs) max = Math.max(max, this.values[i]!);
    return max;
  }
}
