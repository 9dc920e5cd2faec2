/**
 * Asks for a garbage collection whenever the process's RSS has grown by `growthBytes` since the
 * last one, checked every `everyMs`; returns the function that stops it.
 *
 * Why: JavaScriptCore schedules its collections by the size of its heap, "extra" memory included,
 * and with the embedded database that counts PGlite's wasm memory (~270 MB reported), so it lets
 * about as much be allocated again before it collects. Bun's own timer collects often only while
 * the heap has been growing lately; after half a minute idle it waits. Native memory held by
 * garbage (buffers of HTTP/2 frames, processes' pipes, request bodies) is freed only by a
 * collection: a burst of 300 jobs took `drover start` from 185 to 470-600 MB, all of it back at
 * the next collection (BENCHMARKS.md, "The one-node cluster's memory").
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
