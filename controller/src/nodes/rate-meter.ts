/**
 * Events per second over the last couple of seconds (a sliding window of small buckets), for
 * rates that steer the scheduler, such as how fast a node's jobs end.
 */
export class RateMeter {
  private readonly counts: number[];
  private bucket = 0;
  private bucketStart: number;

  constructor(
    private readonly bucketMs = 250,
    buckets = 8,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.counts = new Array<number>(buckets).fill(0);
    this.bucketStart = clock();
  }

  add(n = 1, at = this.clock()): void {
    this.advance(at);
    this.counts[this.bucket]! += n;
  }

  /**
   * Events per second over the window (the current, partly filled bucket included), counted
   * from the oldest bucket that saw any: after a quiet spell, a burst is measured at its own
   * pace within a bucket or two, not diluted by the quiet (a node sent a burst of short jobs
   * gets a backlog to match quickly). At least one bucket's time is counted.
   */
  perSecond(at = this.clock()): number {
    this.advance(at);
    const n = this.counts.length;
    let total = 0;
    let buckets = 0; // from the oldest non-empty bucket to the current one
    for (let age = n - 1; age >= 0; age--) {
      const count = this.counts[(this.bucket - age + n) % n]!;
      if (count > 0 && buckets === 0) buckets = age + 1;
      total += count;
    }
    if (!total) return 0;
    const spanMs = Math.max(this.bucketMs, (buckets - 1) * this.bucketMs + (at - this.bucketStart));
    return (total * 1000) / spanMs;
  }

  private advance(at: number): void {
    const steps = Math.floor((at - this.bucketStart) / this.bucketMs);
    if (steps <= 0) return;
    for (let i = 0; i < Math.min(steps, this.counts.length); i++) {
      this.bucket = (this.bucket + 1) % this.counts.length;
      this.counts[this.bucket] = 0;
    }
    this.bucketStart += steps * this.bucketMs;
  }
}
