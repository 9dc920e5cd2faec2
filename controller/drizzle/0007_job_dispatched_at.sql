ALTER TABLE "jobs" ADD COLUMN "dispatched_at" timestamp with time zone;--> statement-breakpoint
-- a dispatching job is its own pending DISPATCH from now on (see controller/src/jobs/pending-actions.ts)
DELETE FROM "pending_actions" WHERE "type" = 'DISPATCH';
