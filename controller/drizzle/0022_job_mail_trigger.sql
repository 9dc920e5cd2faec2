-- Mail about a job (jobs.mail_events): a row in job_mail when the job starts (BEGIN), ends
-- (END) or fails or is lost (FAIL), whichever dialect or path changed its state. Only jobs that
-- asked for mail pay for it (the trigger's WHEN).
CREATE OR REPLACE FUNCTION drover_job_mail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state = 'running' AND OLD.state NOT IN ('running', 'suspended') AND NEW.mail_events ? 'BEGIN' THEN
    INSERT INTO job_mail (job_id, event, recipients) VALUES (NEW.id, 'BEGIN', NEW.mail_to);
  END IF;
  IF NEW.state IN ('completed', 'failed', 'cancelled', 'lost') AND OLD.state NOT IN ('completed', 'failed', 'cancelled', 'lost') THEN
    IF NEW.mail_events ? 'END' THEN
      INSERT INTO job_mail (job_id, event, recipients) VALUES (NEW.id, 'END', NEW.mail_to);
    END IF;
    IF NEW.state IN ('failed', 'lost') AND NEW.mail_events ? 'FAIL' THEN
      INSERT INTO job_mail (job_id, event, recipients) VALUES (NEW.id, 'FAIL', NEW.mail_to);
    END IF;
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER jobs_mail AFTER UPDATE OF state ON jobs FOR EACH ROW
  WHEN (NEW.mail_events <> '[]'::jsonb AND NEW.state IS DISTINCT FROM OLD.state)
  EXECUTE FUNCTION drover_job_mail();
