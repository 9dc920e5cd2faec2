ALTER TABLE "reports" ALTER COLUMN "minimum_sample_size" SET DEFAULT 1;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "cpu_utilization" double precision;--> statement-breakpoint
ALTER TABLE "reports" ADD COLUMN "owner" text;--> statement-breakpoint
ALTER TABLE "reports" ADD COLUMN "version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "reports_next_consolidation" ON "reports" USING btree ("next_consolidation_at");