import type { Config } from "@drover/shared/config";

/** The most a node's backlog may hold, in times its processors, however quickly its jobs end. */
export const ADAPTIVE_BACKLOG_MAX = 64;

/**
 * How many times its processors a node's backlog may hold: the configured factor, or — for a
 * node whose jobs end quickly — as many jobs as it will start within an eighth of the backlog
 * wait at its recent pace. Short jobs then arrive in batches large enough to keep the node busy
 * between two scheduling passes, while a backlogged job still expects to wait far less than the
 * time after which its agent would hand it back. 0 turns backlogs off.
 */
export function backlogFactor(config: Config["scheduler"], cores: number, endsPerSecond: number): number {
  if (config.nodeBacklog <= 0 || cores <= 0) return 0;
  const horizonS = config.backlogWaitMs / 8 / 1000;
  const byPace = Math.min(ADAPTIVE_BACKLOG_MAX, (endsPerSecond * horizonS) / cores);
  return Math.max(config.nodeBacklog, byPace);
}
