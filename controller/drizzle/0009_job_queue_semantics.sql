CREATE TABLE "cluster_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scheduler_warnings" (
	"message" text PRIMARY KEY NOT NULL,
	"first_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_at" timestamp with time zone DEFAULT now() NOT NULL,
	"count" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
DROP INDEX "jobs_queue_with_dependencies";--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "identity" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "req_group" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "learn_override" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "memory_given_bytes" bigint;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "walltime_given_ms" bigint;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "walltime_enforced" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "dep_groups" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "after_groups" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "behaviours" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "scratch_base" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "scratch_home" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "scratch_dir" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "container" jsonb;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "retry_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "end_cause" text;--> statement-breakpoint
CREATE INDEX "jobs_identity" ON "jobs" USING btree ("identity") WHERE "jobs"."identity" is not null;--> statement-breakpoint
CREATE INDEX "jobs_group" ON "jobs" USING btree ("job_group","id");--> statement-breakpoint
CREATE INDEX "jobs_dep_groups" ON "jobs" USING gin ("dep_groups") WHERE "jobs"."dep_groups" <> '[]'::jsonb;--> statement-breakpoint
CREATE INDEX "jobs_req_group_completed" ON "jobs" USING btree ("owner","req_group") WHERE "jobs"."state" = 'completed' and "jobs"."req_group" <> '';--> statement-breakpoint
CREATE INDEX "jobs_queue_with_dependencies" ON "jobs" USING btree ("priority" DESC NULLS FIRST,"id") WHERE "jobs"."state" = 'queued' and ("jobs"."depends_on" <> '[]'::jsonb or "jobs"."after_groups" <> '[]'::jsonb);