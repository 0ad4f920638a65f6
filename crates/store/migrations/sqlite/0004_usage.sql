-- Metered usage per function (all versions together), for later billing: requests and billed
-- memory-time. The invoker counts in memory; the server adds its counts here in batches.
CREATE TABLE function_usage (
    function_name TEXT PRIMARY KEY NOT NULL,
    requests      BIGINT NOT NULL DEFAULT 0,
    -- Sum over invocations of Billed Duration (ms) × MemorySize (MB).
    mb_ms         BIGINT NOT NULL DEFAULT 0,
    updated_ms    BIGINT NOT NULL
);
