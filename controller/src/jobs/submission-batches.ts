/**
 * Group commit for submissions. A submission that arrives while the batches in flight fill every
 * slot waits, and those that waited are stored together in the next batch (one statement, one
 * commit) — Postgres's own group commit, one level up, where it also saves the round trips. A
 * submission that finds a slot free goes at once, alone: batching never adds latency to a quiet
 * controller. Each submission of a batch is still checked, stored and refused on its own (see
 * storeTogether in submit-job.ts).
 */
export interface Batched<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class Batches<T, R> {
  private waiting: Batched<T, R>[] = [];
  private inFlight = 0;

  /**
   * store settles every member of the batch it is given; size: how much a member weighs
   * (a batch stops growing at maxSize, but always takes at least one member)
   */
  constructor(
    private readonly store: (batch: Batched<T, R>[]) => Promise<void>,
    private readonly size: (item: T) => number,
    private readonly maxInFlight = 2,
    private readonly maxSize = 5_000,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length) {
      let weight = 0;
      let n = 0;
      while (n < this.waiting.length && (n === 0 || weight + this.size(this.waiting[n]!.item) <= this.maxSize)) weight += this.size(this.waiting[n++]!.item);
      const batch = this.waiting.splice(0, n);
      this.inFlight++;
      this.store(batch)
        // (store settles its members; a failure of its own settles those it left)
        .catch((e) => batch.forEach((m) => m.reject(e)))
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
