-- Queues: their attributes and tags as JSON objects; `id` changes when a name is made again.
CREATE TABLE queues (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created INTEGER NOT NULL,
    modified INTEGER NOT NULL
);

-- Messages; `seq` orders a queue (and is a FIFO message's SequenceNumber).
CREATE TABLE messages (
    queue TEXT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    system TEXT NOT NULL,
    sent INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    first_receive INTEGER,
    receipt INTEGER NOT NULL,
    PRIMARY KEY (queue, seq)
) WITHOUT ROWID;

-- FIFO deduplication ids seen in the last five minutes.
CREATE TABLE dedup (
    queue TEXT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;
