ALTER TABLE "jobs" ADD COLUMN "gres" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "gres" jsonb DEFAULT '{}'::jsonb NOT NULL;