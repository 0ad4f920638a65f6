//! SQS's own SQLite database (`<data>/sqs.db`, WAL, `synchronous = FULL`): the queues,
//! messages and deduplication ids, loaded whole at start and written back, row by row, for
//! what each request changed, in one transaction before the request is answered.

use crate::state::{Dedup, Dirty, Message, Queue, State};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

pub struct Db {
    pool: SqlitePool,
}

impl Db {
    pub async fn open(path: &Path) -> Result<Db, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged message survives a crash of the host.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Db { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Everything stored, as the in-memory state.
    pub async fn load(&self, now: i64) -> Result<State, sqlx::Error> {
        let mut state = State::default();
        let mut by_id = std::collections::HashMap::new();
        for row in sqlx::query("SELECT id, name, attributes, tags, created, modified FROM queues")
            .fetch_all(&self.pool)
            .await?
        {
            let mut q = Queue::new(row.get("id"), row.get("name"), row.get("created"));
            q.modified = row.get("modified");
            q.attributes = json(row.get("attributes"));
            q.tags = json(row.get("tags"));
            by_id.insert(q.id.clone(), q.name.clone());
            state.queues.insert(q.name.clone(), q);
        }
        let rows = sqlx::query(
            "SELECT queue, seq, id, body, attributes, system, sent, visible_at, receive_count,
                    first_receive, receipt FROM messages",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let Some(q) = by_id
                .get(row.get::<&str, _>("queue"))
                .and_then(|n| state.queues.get_mut(n))
            else {
                continue;
            };
            let seq = row.get::<i64, _>("seq") as u64;
            state.last_seq = state.last_seq.max(seq);
            q.messages.insert(
                seq,
                Message {
                    id: row.get("id"),
                    seq,
                    body: row.get("body"),
                    attributes: json(row.get("attributes")),
                    system: json(row.get("system")),
                    sent: row.get("sent"),
                    visible_at: row.get("visible_at"),
                    receive_count: row.get::<i64, _>("receive_count") as u32,
                    first_receive: row.get("first_receive"),
                    receipt: row.get("receipt"),
                },
            );
            q.index(seq, now);
        }
        for row in sqlx::query("SELECT queue, key, message_id, seq, expires FROM dedup")
            .fetch_all(&self.pool)
            .await?
        {
            if let Some(q) = by_id
                .get(row.get::<&str, _>("queue"))
                .and_then(|n| state.queues.get_mut(n))
            {
                q.dedup.insert(
                    row.get("key"),
                    Dedup {
                        message_id: row.get("message_id"),
                        seq: row.get::<i64, _>("seq") as u64,
                        expires: row.get("expires"),
                    },
                );
            }
        }
        Ok(state)
    }

    /// Writes the changes of several requests, in order, in one transaction (none when
    /// they hold nothing).
    pub async fn write(&self, batch: &[Vec<Write>]) -> Result<(), sqlx::Error> {
        if batch.iter().all(Vec::is_empty) {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for write in batch.iter().flatten() {
            match write {
                Write::Queue {
                    id,
                    name,
                    attributes,
                    tags,
                    created,
                    modified,
                } => {
                    sqlx::query(
                        "INSERT INTO queues (id, name, attributes, tags, created, modified)
                         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET
                         attributes = excluded.attributes, tags = excluded.tags,
                         modified = excluded.modified",
                    )
                    .bind(id)
                    .bind(name)
                    .bind(attributes)
                    .bind(tags)
                    .bind(created)
                    .bind(modified)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::DeleteQueue { id } => {
                    sqlx::query("DELETE FROM queues WHERE id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                Write::Message { queue, m } => {
                    sqlx::query(
                        "INSERT INTO messages (queue, seq, id, body, attributes, system, sent,
                           visible_at, receive_count, first_receive, receipt)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(queue, seq) DO UPDATE
                         SET visible_at = excluded.visible_at,
                             receive_count = excluded.receive_count,
                             first_receive = excluded.first_receive, receipt = excluded.receipt",
                    )
                    .bind(queue)
                    .bind(m.seq as i64)
                    .bind(&m.id)
                    .bind(&m.body)
                    .bind(m.attributes.as_str())
                    .bind(m.system.as_str())
                    .bind(m.sent)
                    .bind(m.visible_at)
                    .bind(m.receive_count as i64)
                    .bind(m.first_receive)
                    .bind(m.receipt)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::DeleteMessage { queue, seq } => {
                    sqlx::query("DELETE FROM messages WHERE queue = ? AND seq = ?")
                        .bind(queue)
                        .bind(*seq as i64)
                        .execute(&mut *tx)
                        .await?;
                }
                Write::Dedup {
                    queue,
                    key,
                    message_id,
                    seq,
                    expires,
                } => {
                    sqlx::query(
                        "INSERT OR REPLACE INTO dedup (queue, key, message_id, seq, expires)
                         VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(queue)
                    .bind(key)
                    .bind(message_id)
                    .bind(*seq as i64)
                    .bind(expires)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::DeleteDedup { queue, key } => {
                    sqlx::query("DELETE FROM dedup WHERE queue = ? AND key = ?")
                        .bind(queue)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await
    }
}

/// A message row as written: its JSON columns already encoded.
#[derive(Debug)]
pub struct MessageRow {
    pub id: String,
    pub seq: u64,
    pub body: String,
    pub attributes: String,
    pub system: String,
    pub sent: i64,
    pub visible_at: i64,
    pub receive_count: u32,
    pub first_receive: Option<i64>,
    pub receipt: i64,
}

/// One row to write or delete, its values copied out of the state when the change was made
/// (the writer runs without the state's lock).
#[derive(Debug)]
pub enum Write {
    Queue {
        id: String,
        name: String,
        attributes: String,
        tags: String,
        created: i64,
        modified: i64,
    },
    DeleteQueue {
        id: String,
    },
    /// A message as it is now (new, or its receipt fields changed).
    Message {
        queue: String,
        m: Box<MessageRow>,
    },
    DeleteMessage {
        queue: String,
        seq: u64,
    },
    Dedup {
        queue: String,
        key: String,
        message_id: String,
        seq: u64,
        expires: i64,
    },
    DeleteDedup {
        queue: String,
        key: String,
    },
}

/// The rows `state.dirty` names, with their values now, in the order they must be written
/// (queues, then messages, then deduplication ids); clears it.
pub fn collect(state: &mut State) -> Vec<Write> {
    let Dirty {
        queues,
        messages,
        dedup,
    } = std::mem::take(&mut state.dirty);
    let mut out = Vec::with_capacity(queues.len() + messages.len() + dedup.len());
    for (id, name) in queues {
        out.push(match state.queues.get(&name).filter(|q| q.id == id) {
            Some(q) => Write::Queue {
                id: q.id.clone(),
                name: q.name.clone(),
                attributes: serde_json::to_string(&q.attributes).unwrap_or_default(),
                tags: serde_json::to_string(&q.tags).unwrap_or_default(),
                created: q.created,
                modified: q.modified,
            },
            None => Write::DeleteQueue { id },
        });
    }
    if messages.is_empty() && dedup.is_empty() {
        return out;
    }
    let by_id: std::collections::HashMap<&str, &Queue> =
        state.queues.values().map(|q| (q.id.as_str(), q)).collect();
    for (queue, seq) in messages {
        let write = match by_id.get(queue.as_str()).and_then(|q| q.messages.get(&seq)) {
            Some(m) => Write::Message {
                queue,
                m: Box::new(MessageRow {
                    id: m.id.clone(),
                    seq,
                    body: m.body.clone(),
                    attributes: serde_json::to_string(&m.attributes).unwrap_or_default(),
                    system: serde_json::to_string(&m.system).unwrap_or_default(),
                    sent: m.sent,
                    visible_at: m.visible_at,
                    receive_count: m.receive_count,
                    first_receive: m.first_receive,
                    receipt: m.receipt,
                }),
            },
            None => Write::DeleteMessage { queue, seq },
        };
        out.push(write);
    }
    for (queue, key) in dedup {
        out.push(
            match by_id.get(queue.as_str()).and_then(|q| q.dedup.get(&key)) {
                Some(d) => Write::Dedup {
                    message_id: d.message_id.clone(),
                    seq: d.seq,
                    expires: d.expires,
                    queue,
                    key,
                },
                None => Write::DeleteDedup { queue, key },
            },
        );
    }
    out
}

fn json<T: serde::de::DeserializeOwned + Default>(text: String) -> T {
    serde_json::from_str(&text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SystemFields;

    #[tokio::test]
    async fn what_is_committed_loads_again_with_its_visibility() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("sqs.db")).await.unwrap();
        let mut state = State::default();
        state
            .queues
            .insert("q".into(), Queue::new("id".into(), "q".into(), 5));
        state.touch_queue("q");
        for body in ["one", "two"] {
            let m = Message {
                id: body.into(),
                seq: 0,
                body: body.into(),
                attributes: Default::default(),
                system: SystemFields::default(),
                sent: 10,
                visible_at: 10,
                receive_count: 0,
                first_receive: None,
                receipt: 0,
            };
            state.push("q", m, 10);
        }
        db.write(&[collect(&mut state)]).await.unwrap();
        let taken = state.receive("q", 1, 600, 20);
        db.write(&[collect(&mut state)]).await.unwrap();
        let mut loaded = db.load(30).await.unwrap();
        let q = loaded.queue_mut("q").unwrap();
        assert_eq!(q.messages.len(), 2);
        assert_eq!(q.counts(30), (1, 1, 0));
        assert_eq!(q.messages[&taken[0].seq].receive_count, 1);
        assert!(loaded.last_seq >= taken[0].seq);
        // A deleted queue takes its messages with it.
        loaded.drop_queue("q");
        db.write(&[collect(&mut loaded)]).await.unwrap();
        assert!(db.load(40).await.unwrap().queues.is_empty());
    }
}
