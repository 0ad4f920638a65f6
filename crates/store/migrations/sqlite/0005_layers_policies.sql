-- Layers and their versions. A layer row outlives its versions so that version numbers are
-- never reused; a version's metadata is the JSON of ignis_model::layer::LayerVersion.
CREATE TABLE layers (
    name            TEXT PRIMARY KEY NOT NULL,
    next_version    BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE layer_versions (
    name            TEXT NOT NULL REFERENCES layers(name),
    version         BIGINT NOT NULL,
    config          TEXT NOT NULL,
    code_sha256     TEXT NOT NULL,
    code_size       BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE INDEX layer_versions_code ON layer_versions (code_sha256);

-- The resource-based policy of a layer version: its statements (a JSON array, in the order they
-- were added) and its own revision id.
CREATE TABLE layer_version_policies (
    name            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    statements      TEXT NOT NULL,
    revision_id     TEXT NOT NULL,
    PRIMARY KEY (name, version),
    FOREIGN KEY (name, version) REFERENCES layer_versions(name, version) ON DELETE CASCADE
);

-- The resource-based policy of a function, per qualifier: `$LATEST` (also the unqualified
-- function), a version number or an alias name. Its revision is the RevisionId of the version
-- or alias it belongs to.
CREATE TABLE function_policies (
    function_name   TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier       TEXT NOT NULL,
    statements      TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);
