/**
 * The one clock. Production code reads time through `now()`; tests replace the source with
 * `setClock` to drive time without sleeping (reports, heartbeats and walltime all use it).
 */
let source: () => number = () => Date.now();

/** Milliseconds since the epoch, from the current clock source. */
export function now(): number {
  return source();
}

/** The current time as a Date. */
export function nowDate(): Date {
  return new Date(source());
}

/** Replace the clock (tests). Returns a function that restores the previous one. */
export function setClock(fn: () => number): () => void {
  const previous = source;
  source = fn;
  return () => {
    source = previous;
  };
}

/** A clock tests can move by hand. */
export class ManualClock {
  constructor(public ms: number) {}
  readonly read = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number | Date): void {
    this.ms = typeof ms === "number" ? ms : ms.getTime();
  }
}
