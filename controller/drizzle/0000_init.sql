CREATE TABLE "agent_tokens" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "agent_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "datapoints" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"report_id" integer NOT NULL,
	"start_date" timestamp with time zone NOT NULL,
	"end_date" timestamp with time zone NOT NULL,
	"first_sample_date" timestamp with time zone,
	"last_sample_date" timestamp with time zone,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "files" (
	"id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"name" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"sha256" text NOT NULL,
	"job_id" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job_id" bigint NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"owner" text NOT NULL,
	"job_group" text DEFAULT '' NOT NULL,
	"argv" jsonb NOT NULL,
	"working_directory" text,
	"environment" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cpus" integer DEFAULT 1 NOT NULL,
	"memory_bytes" bigint DEFAULT 0 NOT NULL,
	"disk_bytes" bigint DEFAULT 0 NOT NULL,
	"gpus" integer DEFAULT 0 NOT NULL,
	"walltime_ms" bigint,
	"hosts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"features" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"node_count" integer DEFAULT 1 NOT NULL,
	"tasks_per_node" integer,
	"priority" integer DEFAULT 0 NOT NULL,
	"holds" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"depends_on" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"earliest_start_at" timestamp with time zone,
	"retries" integer DEFAULT 0 NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"reason" text,
	"node_id" text,
	"allocated_nodes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"pid" integer,
	"exit_code" integer,
	"signal" text,
	"start_count" integer DEFAULT 0 NOT NULL,
	"submitted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"suspended_ms" bigint DEFAULT 0 NOT NULL,
	"suspended_at" timestamp with time zone,
	"walltime_used_ms" bigint,
	"cpu_time_ms" bigint,
	"peak_rss_bytes" bigint,
	"stdout_tail" text DEFAULT '' NOT NULL,
	"stderr_tail" text DEFAULT '' NOT NULL,
	"stdout_path" text,
	"stderr_path" text,
	"messages" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"variables" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"flags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"extra" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cancel_requested_at" timestamp with time zone,
	"attempt" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"id" text PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"addresses" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"cores" integer NOT NULL,
	"memory_bytes" bigint NOT NULL,
	"swap_bytes" bigint DEFAULT 0 NOT NULL,
	"disk_bytes" bigint DEFAULT 0 NOT NULL,
	"gpus" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"os" text DEFAULT '' NOT NULL,
	"arch" text DEFAULT '' NOT NULL,
	"features" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"partition" text DEFAULT 'default' NOT NULL,
	"state" text DEFAULT 'up' NOT NULL,
	"state_reason" text,
	"agent_version" text DEFAULT '' NOT NULL,
	"cpu_load" double precision,
	"available_memory_bytes" bigint,
	"last_heartbeat_at" timestamp with time zone,
	"registered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"controller_id" text
);
--> statement-breakpoint
CREATE TABLE "pending_actions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"state" text DEFAULT 'RUNNING' NOT NULL,
	"requester" text NOT NULL,
	"job_id" bigint,
	"hosts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"max_duration_s" integer DEFAULT 60 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reports" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"datapoint_duration_s" integer NOT NULL,
	"report_size" integer NOT NULL,
	"minimum_sample_size" integer DEFAULT 0 NOT NULL,
	"keep_samples" boolean DEFAULT false NOT NULL,
	"consolidation_function" text DEFAULT 'average' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"next_consolidation_at" timestamp with time zone NOT NULL,
	CONSTRAINT "reports_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"report_id" integer NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	"agent" text,
	"data" jsonb NOT NULL,
	"consumed" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" serial PRIMARY KEY NOT NULL,
	"username" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" text DEFAULT 'user' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_username_unique" UNIQUE("username")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "datapoints_report_start" ON "datapoints" USING btree ("report_id","start_date");--> statement-breakpoint
CREATE INDEX "job_events_job" ON "job_events" USING btree ("job_id","id");--> statement-breakpoint
CREATE INDEX "jobs_state_priority" ON "jobs" USING btree ("state","priority","id");--> statement-breakpoint
CREATE INDEX "jobs_owner" ON "jobs" USING btree ("owner","id");--> statement-breakpoint
CREATE INDEX "jobs_node" ON "jobs" USING btree ("node_id");--> statement-breakpoint
CREATE INDEX "samples_report_time" ON "samples" USING btree ("report_id","consumed","timestamp");