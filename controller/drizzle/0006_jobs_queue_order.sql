DROP INDEX "jobs_state_priority";--> statement-breakpoint
CREATE INDEX "jobs_queue_order" ON "jobs" USING btree ("state","priority" DESC NULLS FIRST,"id");--> statement-breakpoint
CREATE INDEX "jobs_queue_with_dependencies" ON "jobs" USING btree ("priority" DESC NULLS FIRST,"id") WHERE "jobs"."state" = 'queued' and "jobs"."depends_on" <> '[]'::jsonb;--> statement-breakpoint
CREATE INDEX "jobs_queue_execute_requested" ON "jobs" USING btree ("priority" DESC NULLS FIRST,"id") WHERE "jobs"."state" = 'queued' and "jobs"."execute_requested_at" is not null;