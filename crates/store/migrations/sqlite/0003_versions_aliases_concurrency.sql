-- Aliases point at a published version (or $LATEST) and may route part of the traffic to one
-- more version. Reserved and provisioned concurrency live beside the function.
CREATE TABLE aliases (
    function_name    TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    function_version TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    routing          TEXT NOT NULL DEFAULT '{}',
    revision_id      TEXT NOT NULL,
    PRIMARY KEY (function_name, name)
);

ALTER TABLE functions ADD COLUMN reserved_concurrency BIGINT;

CREATE TABLE provisioned_concurrency (
    function_name    TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier        TEXT NOT NULL,
    requested        BIGINT NOT NULL,
    last_modified_ms BIGINT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);
