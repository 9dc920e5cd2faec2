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

  /** Events per second over the window (the current, partly filled bucket included). */
  perSecond(at = this.clock()): number {
    this.advance(at);
    const total = this.counts.reduce((a, b) => a + b, 0);
    const spanMs = (this.counts.length - 1) * this.bucketMs + Math.max(1, at - this.bucketStart);
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
