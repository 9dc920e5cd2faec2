ALTER TABLE "jobs" ADD COLUMN "requeue_requested_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "execute_requested_at" timestamp with time zone;