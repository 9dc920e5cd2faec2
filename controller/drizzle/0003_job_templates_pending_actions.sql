CREATE TABLE "job_templates" (
	"id" text PRIMARY KEY NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"spec" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"dependencies" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"selectable" boolean DEFAULT true NOT NULL,
	"source" text DEFAULT 'api' NOT NULL,
	"version" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "pending_actions" ALTER COLUMN "job_id" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "pending_actions_job" ON "pending_actions" USING btree ("job_id");--> statement-breakpoint
ALTER TABLE "pending_actions" DROP COLUMN "state";