-- Each queued asynchronous invocation keeps the X-Ray trace decided when it was queued (so every
-- attempt continues the caller's trace) and what triggered it. Events queued before have neither.
ALTER TABLE async_events ADD COLUMN trace TEXT;
ALTER TABLE async_events ADD COLUMN faas_trigger TEXT;
