CREATE TABLE "controllers" (
	"id" text PRIMARY KEY NOT NULL,
	"http_url" text NOT NULL,
	"grpc_address" text NOT NULL,
	"hostname" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"leader_since" timestamp with time zone
);
