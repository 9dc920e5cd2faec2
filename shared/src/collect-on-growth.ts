/**
 * Asks for a garbage collection whenever the process's RSS has grown by `growthBytes` above the
 * lowest it has been since the last request, checked every `everyMs`; returns the function that
 * stops it.
 *
 * Why: JavaScriptCore schedules its collections by the size of its heap, "extra" memory included,
 * and with the embedded database open (see openDatabase) that counts PGlite's wasm memory
 * (~270 MB reported beside a JavaScript heap of ~13 MB), so it lets about as much be allocated
 * again before it collects; and Bun's own timer, as observed, collects often only shortly after
 * the start. Native memory held by garbage (what allocates it was not traced) is freed only by
 * a collection: 300 jobs 30 s after the start took `drover start` from 185 to 470-600 MB, back
 * to ~280 MB at the one collection (BENCHMARKS.md, "The one-node cluster's memory").
 *
 * `Bun.gc(false)` only asks: the collection runs concurrently and the call returns at once.
 */
export function collectOnGrowth({ growthBytes = 8 * 2 ** 20, everyMs = 100 } = {}): () => void {
  let base = process.memoryUsage.rss();
  const timer = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss < base) base = rss;
    else if (rss - base > growthBytes) {
      Bun.gc(false);
      base = rss;
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
