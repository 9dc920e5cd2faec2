CREATE SEQUENCE "public"."jobs_queue_position_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
DROP INDEX "jobs_queue_order";--> statement-breakpoint
DROP INDEX "jobs_queue_with_dependencies";--> statement-breakpoint
DROP INDEX "jobs_queue_execute_requested";--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "queue_position" bigint DEFAULT nextval('jobs_queue_position_seq') NOT NULL;--> statement-breakpoint
-- jobs already queued keep their order (FIFO by id); new ones come after them
UPDATE "jobs" SET "queue_position" = "id";--> statement-breakpoint
SELECT setval('jobs_queue_position_seq', coalesce((SELECT max("queue_position") FROM "jobs"), 0) + 1, false);--> statement-breakpoint
CREATE INDEX "jobs_queue_order" ON "jobs" USING btree ("state","priority" DESC NULLS FIRST,"queue_position");--> statement-breakpoint
CREATE INDEX "jobs_queue_with_dependencies" ON "jobs" USING btree ("priority" DESC NULLS FIRST,"queue_position") WHERE "jobs"."state" = 'queued' and ("jobs"."depends_on" <> '[]'::jsonb or "jobs"."after_groups" <> '[]'::jsonb);--> statement-breakpoint
CREATE INDEX "jobs_queue_execute_requested" ON "jobs" USING btree ("priority" DESC NULLS FIRST,"queue_position") WHERE "jobs"."state" = 'queued' and "jobs"."execute_requested_at" is not null;