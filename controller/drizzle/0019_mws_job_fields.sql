ALTER TABLE "jobs" ADD COLUMN "swap_bytes" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "arch" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "os" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "node_access" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "stdout_file" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "stderr_file" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "bypass" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "login_environment" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "available_disk_bytes" bigint;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "available_swap_bytes" bigint;