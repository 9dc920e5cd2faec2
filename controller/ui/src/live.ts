import { useEffect, useRef } from "preact/hooks";
import { follow, type LiveEvent } from "./api.ts";

/** Calls `on` for every live event while the component is shown (one stream per component). */
export function useLive(query: string, on: (e: LiveEvent) => void): void {
  const handler = useRef(on);
  handler.current = on;
  useEffect(() => {
    const stop = new AbortController();
    void follow(query, (e) => handler.current(e), stop.signal);
    return () => stop.abort();
  }, [query]);
}

/** Runs `fn` at most once per `ms` (the last call wins), for refreshing on bursts of events. */
export function useThrottle(fn: () => void, ms: number): () => void {
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const current = useRef(fn);
  current.current = fn;
  useEffect(() => () => clearTimeout(timer.current), []);
  return () => {
    if (timer.current) return;
    const wait = Math.max(0, last.current + ms - Date.now());
    timer.current = setTimeout(() => {
      timer.current = undefined;
      last.current = Date.now();
      current.current();
    }, wait);
  };
}
