/**
 * drover's job states. One state machine; every dialect maps it through its own table.
 *   queued ──dispatch──▶ dispatching ──started──▶ running ⇄ suspended
 *   running/suspended ──finished──▶ completed | failed | cancelled
 *   dispatching/running/suspended ──node lost──▶ lost ──retries left──▶ queued
 *   queued ──cancel──▶ cancelled
 */
export const jobStates = ["queued", "dispatching", "running", "suspended", "completed", "failed", "cancelled", "lost"] as const;
export type JobState = (typeof jobStates)[number];

/** States in which the job holds resources on a node. */
export const onNodeStates: JobState[] = ["dispatching", "running", "suspended"];

/** States a job never leaves. */
export const terminalStates: JobState[] = ["completed", "failed", "cancelled", "lost"];

export function isTerminal(state: string): boolean {
  return (terminalStates as string[]).includes(state);
}

export function isOnNode(state: string): boolean {
  return (onNodeStates as string[]).includes(state);
}
