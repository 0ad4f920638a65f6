-- Asynchronous (Event) invocations waiting to run. A row is written, and committed, before the
-- caller is answered 202; it is deleted when the invocation is done (or dropped for good).
CREATE TABLE async_events (
    request_id      TEXT PRIMARY KEY NOT NULL,
    function_name   TEXT NOT NULL,
    qualifier       TEXT NOT NULL,
    invoked_arn     TEXT NOT NULL,
    payload         BLOB NOT NULL,
    enqueued_ms     BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    leased_until_ms BIGINT
);

CREATE INDEX async_events_due ON async_events (next_attempt_ms);
