CREATE TABLE "workflow_errors" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"execution" text NOT NULL,
	"environment" text NOT NULL,
	"message" text NOT NULL,
	"stack_trace" text DEFAULT '' NOT NULL,
	"level" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"reported" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workflow_executions" (
	"id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"name" text NOT NULL,
	"dialect" text NOT NULL,
	"state" text DEFAULT 'running' NOT NULL,
	"definition" jsonb NOT NULL,
	"error" jsonb,
	"staged" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "workflow_instances" (
	"execution" text NOT NULL,
	"task" text NOT NULL,
	"index" integer NOT NULL,
	"job_id" bigint NOT NULL,
	"values" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"state" text DEFAULT 'submitted' NOT NULL,
	"failures_reported" integer DEFAULT 0 NOT NULL,
	"outputs" jsonb DEFAULT '[]'::jsonb NOT NULL,
	CONSTRAINT "workflow_instances_execution_task_index_pk" PRIMARY KEY("execution","task","index")
);
--> statement-breakpoint
ALTER TABLE "files" ADD COLUMN "execution" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "workflow" text;--> statement-breakpoint
CREATE INDEX "workflow_errors_execution" ON "workflow_errors" USING btree ("execution","id");--> statement-breakpoint
CREATE INDEX "workflow_executions_owner" ON "workflow_executions" USING btree ("owner","created_at");--> statement-breakpoint
CREATE INDEX "workflow_executions_running" ON "workflow_executions" USING btree ("state") WHERE "workflow_executions"."state" = 'running';--> statement-breakpoint
CREATE INDEX "workflow_instances_job" ON "workflow_instances" USING btree ("job_id");--> statement-breakpoint
CREATE INDEX "workflow_instances_state" ON "workflow_instances" USING btree ("execution","state");--> statement-breakpoint
CREATE INDEX "files_execution" ON "files" USING btree ("execution") WHERE "files"."execution" is not null;