-- IAM and STS: every entity (user, group, role, customer managed policy, access key, role
-- session) is one JSON document under its kind and key. ignis-identity holds them all in memory
-- and writes each change here, several documents in one transaction; nothing reads them on a
-- request's path.
CREATE TABLE identity_entities (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
