/**
 * The advisory lock that serialises scheduling passes between controllers sharing one Postgres;
 * whatever changes what a pass may place (a reservation's creation) takes it too.
 */
export const SCHEDULER_LOCK = 7_070_002;
