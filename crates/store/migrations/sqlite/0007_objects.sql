-- S3-compatible object storage: buckets, objects, multipart uploads and their parts. Content
-- lives in blob files (ignis-s3); these rows name the blobs. Keys are TEXT compared with SQLite's
-- default BINARY collation (memcmp of UTF-8), which is S3's order (UTF-8 byte order).
-- `record` columns hold the JSON of the ignis_store record (with a "schema" member).
CREATE TABLE buckets (
    name            TEXT PRIMARY KEY NOT NULL,
    region          TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    -- The bucket's notification configuration, JSON owned by ignis-s3.
    notification    TEXT
);

CREATE TABLE objects (
    bucket          TEXT NOT NULL REFERENCES buckets(name),
    key             TEXT NOT NULL,
    record          TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);

-- In-progress multipart uploads, listed by key, then by initiation.
CREATE TABLE uploads (
    upload_id       TEXT PRIMARY KEY NOT NULL,
    bucket          TEXT NOT NULL REFERENCES buckets(name),
    key             TEXT NOT NULL,
    initiated_ms    BIGINT NOT NULL,
    record          TEXT NOT NULL
);

CREATE INDEX uploads_by_key ON uploads (bucket, key, initiated_ms, upload_id);

CREATE TABLE upload_parts (
    upload_id       TEXT NOT NULL REFERENCES uploads(upload_id) ON DELETE CASCADE,
    number          BIGINT NOT NULL,
    record          TEXT NOT NULL,
    PRIMARY KEY (upload_id, number)
);
