/**
 * Runs `round` every `intervalMs`, one round at a time (a slow round delays the next, never
 * overlaps it); a failed round is reported to `failed` and the next goes on. Returns the stop,
 * which waits for a round in progress.
 */
export function everyInterval(round: () => Promise<void>, intervalMs: number, failed: (error: unknown) => void): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(round).catch(failed);
  }, intervalMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
