CREATE TABLE "job_callbacks" (
	"job_id" bigint PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	"given_up_at" timestamp with time zone,
	"log" jsonb DEFAULT '[]'::jsonb NOT NULL
);
