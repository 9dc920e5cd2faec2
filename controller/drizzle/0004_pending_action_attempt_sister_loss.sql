ALTER TABLE "jobs" ADD COLUMN "sister_lost_reason" text;--> statement-breakpoint
ALTER TABLE "pending_actions" ADD COLUMN "attempt" integer DEFAULT 0 NOT NULL;