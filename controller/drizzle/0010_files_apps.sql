CREATE TABLE "apps" (
	"name" text PRIMARY KEY NOT NULL,
	"definition" jsonb NOT NULL,
	"source" text DEFAULT 'api' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "files" ADD COLUMN "format" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "app" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "app_inputs" jsonb;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "input_files" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "files_owner" ON "files" USING btree ("owner","created_at");--> statement-breakpoint
CREATE INDEX "files_sha256" ON "files" USING btree ("sha256");