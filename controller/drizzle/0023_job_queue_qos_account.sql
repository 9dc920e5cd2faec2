ALTER TABLE "jobs" ADD COLUMN "queue" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "qos" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "account" text;