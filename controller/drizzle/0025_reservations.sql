CREATE TABLE "reservations" (
	"id" text PRIMARY KEY NOT NULL,
	"prefix" text NOT NULL,
	"seq" integer NOT NULL,
	"owner" text NOT NULL,
	"created_by" text NOT NULL,
	"start_at" timestamp with time zone NOT NULL,
	"end_at" timestamp with time zone,
	"flags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"acl_rules" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"holds" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"host_list_expression" text DEFAULT '' NOT NULL,
	"requirements" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"resources" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"partition" text DEFAULT '' NOT NULL,
	"variables" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"standing" text,
	"standing_signature" text,
	"used_by_job" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"released_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "reservation_requested" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "reservation_id" text;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "state_changed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "up_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "up_ms" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "network_bytes_per_second" double precision;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "io_bytes_per_second" double precision;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "messages" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "variables" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "generic_metrics" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "generic_events" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "groups" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "reservations_prefix_seq" ON "reservations" USING btree ("prefix","seq");--> statement-breakpoint
CREATE INDEX "reservations_live" ON "reservations" USING btree ("end_at") WHERE "reservations"."released_at" is null;