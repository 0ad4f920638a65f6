-- Functions and their versions. A version's configuration is the JSON of
-- ignis_model::FunctionConfig; `$LATEST` is the one mutable row per function.
CREATE TABLE functions (
    name            TEXT PRIMARY KEY NOT NULL,
    created_ms      BIGINT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '{}',
    next_version    BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE function_versions (
    name            TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    version         TEXT NOT NULL,
    config          TEXT NOT NULL,
    code_sha256     TEXT NOT NULL,
    code_size       BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE INDEX function_versions_code ON function_versions (code_sha256);
