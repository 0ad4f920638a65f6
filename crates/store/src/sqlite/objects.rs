//! Buckets, objects, multipart uploads and parts. Keys are TEXT in SQLite's BINARY collation
//! (memcmp of UTF-8: S3's order); a prefix is the range `prefix <= key < successor(prefix)`,
//! which matches bytes exactly and walks the primary key's index.

use super::queue::insert_event;
use super::{SqliteBackend, Tx};
use crate::backend::ObjectRows;
use crate::objects::prefix_successor;
use crate::shapes::{OBJECT, PART, UPLOAD};
use crate::{
    AsyncEvent, BucketRecord, Completed, ObjectError, ObjectRecord, PartRecord, StoreError,
    UploadRecord,
};
use async_trait::async_trait;
use sqlx::Row;
use std::collections::HashSet;

fn decode_object(bucket: &str, key: &str, json: &str) -> Result<ObjectRecord, StoreError> {
    OBJECT.decode(&format!("{bucket}/{key}"), json)
}

fn decode_upload(json: &str) -> Result<UploadRecord, StoreError> {
    UPLOAD.decode("multipart upload", json)
}

fn decode_part(json: &str) -> Result<PartRecord, StoreError> {
    PART.decode("upload part", json)
}

fn bucket_of(r: &sqlx::sqlite::SqliteRow) -> BucketRecord {
    BucketRecord {
        name: r.get(0),
        region: r.get(1),
        created_ms: r.get(2),
        notification: r.get(3),
    }
}

async fn bucket_exists(tx: &mut Tx<'_>, name: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM buckets WHERE name = $1")
        .bind(name)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

async fn stored_object(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectRecord>, StoreError> {
    let json: Option<String> =
        sqlx::query_scalar("SELECT record FROM objects WHERE bucket = $1 AND key = $2")
            .bind(bucket)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?;
    json.map(|j| decode_object(bucket, key, &j)).transpose()
}

/// Replaces (or inserts) the object's row inside `tx`; returns the one it replaced.
async fn upsert_object(
    tx: &mut Tx<'_>,
    object: &ObjectRecord,
) -> Result<Option<ObjectRecord>, ObjectError> {
    if !bucket_exists(tx, &object.bucket).await? {
        return Err(ObjectError::NoSuchBucket);
    }
    let previous = stored_object(tx, &object.bucket, &object.key).await?;
    sqlx::query(
        "INSERT INTO objects (bucket, key, record) VALUES ($1, $2, $3) ON CONFLICT (bucket, key) DO UPDATE SET record = excluded.record",
    )
    .bind(&object.bucket)
    .bind(&object.key)
    .bind(OBJECT.encode(object))
    .execute(&mut **tx)
    .await?;
    Ok(previous)
}

async fn insert_events(
    tx: &mut Tx<'_>,
    events: &[AsyncEvent],
    now_ms: i64,
) -> Result<(), StoreError> {
    for event in events {
        insert_event(&mut **tx, event, now_ms).await?;
    }
    Ok(())
}

async fn all_parts(tx: &mut Tx<'_>, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT record FROM upload_parts WHERE upload_id = $1 ORDER BY number")
            .bind(upload_id)
            .fetch_all(&mut **tx)
            .await?;
    rows.iter().map(|j| decode_part(j)).collect()
}

/// Deletes an upload and its parts inside `tx`; returns the parts. `NoSuchUpload`.
async fn remove_upload(tx: &mut Tx<'_>, upload_id: &str) -> Result<Vec<PartRecord>, ObjectError> {
    let parts = all_parts(tx, upload_id).await?;
    sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
        .bind(upload_id)
        .execute(&mut **tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
        .bind(upload_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ObjectError::NoSuchUpload);
    }
    Ok(parts)
}

/// `sql` with its `?` placeholders numbered `$1`, `$2`, … (the house's portable form).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// The SQL condition (`?` placeholders) and its values that select keys starting with `prefix`
/// and greater than `after`.
fn key_range(prefix: &str, after: Option<&str>) -> (String, Vec<String>) {
    let mut clause = String::new();
    let mut values = Vec::new();
    match after {
        Some(a) if a >= prefix => {
            clause.push_str(" AND key > ?");
            values.push(a.to_string());
        }
        _ => {
            clause.push_str(" AND key >= ?");
            values.push(prefix.to_string());
        }
    }
    if let Some(end) = prefix_successor(prefix) {
        clause.push_str(" AND key < ?");
        values.push(end);
    }
    (clause, values)
}

#[async_trait]
impl ObjectRows for SqliteBackend {
    async fn create_bucket(&self, bucket: &BucketRecord) -> Result<(), ObjectError> {
        let inserted = sqlx::query(
            "INSERT INTO buckets (name, region, created_ms, notification) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&bucket.name)
        .bind(&bucket.region)
        .bind(bucket.created_ms)
        .bind(&bucket.notification)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(ObjectError::BucketExists);
        }
        Ok(())
    }

    async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT name, region, created_ms, notification FROM buckets WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(bucket_of))
    }

    async fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT name, region, created_ms, notification FROM buckets ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(bucket_of).collect())
    }

    async fn delete_bucket(&self, name: &str) -> Result<(), ObjectError> {
        let mut tx = self.pool.begin().await?;
        if !bucket_exists(&mut tx, name).await? {
            return Err(ObjectError::NoSuchBucket);
        }
        let held: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM objects WHERE bucket = $1 LIMIT 1)) + (SELECT COUNT(*) FROM (SELECT 1 FROM uploads WHERE bucket = $1 LIMIT 1))",
        )
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        if held > 0 {
            return Err(ObjectError::BucketNotEmpty);
        }
        sqlx::query("DELETE FROM buckets WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_bucket_notification(
        &self,
        name: &str,
        notification: Option<&str>,
    ) -> Result<(), ObjectError> {
        let updated = sqlx::query("UPDATE buckets SET notification = $2 WHERE name = $1")
            .bind(name)
            .bind(notification)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(ObjectError::NoSuchBucket);
        }
        Ok(())
    }

    async fn put_object(
        &self,
        object: &ObjectRecord,
        events: &[AsyncEvent],
        now_ms: i64,
    ) -> Result<Option<ObjectRecord>, ObjectError> {
        let mut tx = self.pool.begin().await?;
        let previous = upsert_object(&mut tx, object).await?;
        insert_events(&mut tx, events, now_ms).await?;
        tx.commit().await?;
        Ok(previous)
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT record FROM objects WHERE bucket = $1 AND key = $2")
                .bind(bucket)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        json.map(|j| decode_object(bucket, key, &j)).transpose()
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: &[AsyncEvent],
        now_ms: i64,
    ) -> Result<Option<ObjectRecord>, ObjectError> {
        let mut tx = self.pool.begin().await?;
        if !bucket_exists(&mut tx, bucket).await? {
            return Err(ObjectError::NoSuchBucket);
        }
        let Some(previous) = stored_object(&mut tx, bucket, key).await? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM objects WHERE bucket = $1 AND key = $2")
            .bind(bucket)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        insert_events(&mut tx, events, now_ms).await?;
        tx.commit().await?;
        Ok(Some(previous))
    }

    async fn set_object_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), ObjectError> {
        let mut tx = self.pool.begin().await?;
        if !bucket_exists(&mut tx, bucket).await? {
            return Err(ObjectError::NoSuchBucket);
        }
        let mut object = stored_object(&mut tx, bucket, key)
            .await?
            .ok_or(ObjectError::NoSuchKey)?;
        object.tags = tags.to_vec();
        sqlx::query("UPDATE objects SET record = $3 WHERE bucket = $1 AND key = $2")
            .bind(bucket)
            .bind(key)
            .bind(OBJECT.encode(&object))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ObjectRecord>, ObjectError> {
        let mut tx = self.pool.begin().await?;
        if !bucket_exists(&mut tx, bucket).await? {
            return Err(ObjectError::NoSuchBucket);
        }
        let (range, values) = key_range(prefix, after);
        let sql = numbered(&format!(
            "SELECT key, record FROM objects WHERE bucket = ?{range} ORDER BY key LIMIT ?"
        ));
        // Audited: `sql` is made of literal fragments only; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(bucket);
        for v in &values {
            query = query.bind(v);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| decode_object(bucket, r.get(0), r.get(1)))
            .collect::<Result<_, _>>()?)
    }

    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), ObjectError> {
        let mut tx = self.pool.begin().await?;
        if !bucket_exists(&mut tx, &upload.bucket).await? {
            return Err(ObjectError::NoSuchBucket);
        }
        sqlx::query(
            "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, record) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&upload.upload_id)
        .bind(&upload.bucket)
        .bind(&upload.key)
        .bind(upload.initiated_ms)
        .bind(UPLOAD.encode(upload))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>, StoreError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT record FROM uploads WHERE upload_id = $1")
                .bind(upload_id)
                .fetch_optional(&self.pool)
                .await?;
        json.map(|j| decode_upload(&j)).transpose()
    }

    async fn put_part(&self, part: &PartRecord) -> Result<Option<PartRecord>, ObjectError> {
        let mut tx = self.pool.begin().await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE upload_id = $1")
            .bind(&part.upload_id)
            .fetch_one(&mut *tx)
            .await?;
        if exists == 0 {
            return Err(ObjectError::NoSuchUpload);
        }
        let previous: Option<String> = sqlx::query_scalar(
            "SELECT record FROM upload_parts WHERE upload_id = $1 AND number = $2",
        )
        .bind(&part.upload_id)
        .bind(i64::from(part.number))
        .fetch_optional(&mut *tx)
        .await?;
        let previous = previous.map(|j| decode_part(&j)).transpose()?;
        sqlx::query(
            "INSERT INTO upload_parts (upload_id, number, record) VALUES ($1, $2, $3) ON CONFLICT (upload_id, number) DO UPDATE SET record = excluded.record",
        )
        .bind(&part.upload_id)
        .bind(i64::from(part.number))
        .bind(PART.encode(part))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(previous)
    }

    async fn parts(
        &self,
        upload_id: &str,
        after: u32,
        limit: u32,
    ) -> Result<Vec<PartRecord>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT record FROM upload_parts WHERE upload_id = $1 AND number > $2 ORDER BY number LIMIT $3",
        )
        .bind(upload_id)
        .bind(i64::from(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|j| decode_part(j)).collect()
    }

    async fn uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UploadRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut sql = String::from("SELECT record FROM uploads WHERE bucket = ? AND key >= ?");
        let mut texts: Vec<String> = vec![bucket.to_string(), prefix.to_string()];
        if let Some(end) = prefix_successor(prefix) {
            sql.push_str(" AND key < ?");
            texts.push(end);
        }
        let mut marker_time = None;
        match (key_marker, upload_id_marker) {
            (Some(km), Some(um)) => {
                let initiated: Option<i64> = sqlx::query_scalar(
                    "SELECT initiated_ms FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3",
                )
                .bind(um)
                .bind(bucket)
                .bind(km)
                .fetch_optional(&mut *tx)
                .await?;
                texts.push(km.to_string());
                texts.push(km.to_string());
                match initiated {
                    Some(t) => {
                        sql.push_str(
                            " AND (key > ? OR (key = ? AND (initiated_ms > ? OR (initiated_ms = ? AND upload_id > ?))))",
                        );
                        marker_time = Some(t);
                    }
                    None => sql.push_str(" AND (key > ? OR (key = ? AND upload_id > ?))"),
                }
            }
            (Some(km), None) => {
                sql.push_str(" AND key > ?");
                texts.push(km.to_string());
            }
            (None, _) => {}
        }
        sql.push_str(" ORDER BY key, initiated_ms, upload_id LIMIT ?");
        let sql = numbered(&sql);
        // Audited: `sql` is made of literal fragments only; every value is bound.
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for t in &texts {
            query = query.bind(t);
        }
        if let Some(um) = upload_id_marker.filter(|_| key_marker.is_some()) {
            if let Some(t) = marker_time {
                query = query.bind(t).bind(t);
            }
            query = query.bind(um);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(|j| decode_upload(j)).collect()
    }

    async fn complete_upload(
        &self,
        upload_id: &str,
        object: &ObjectRecord,
        events: &[AsyncEvent],
        now_ms: i64,
    ) -> Result<Completed, ObjectError> {
        let mut tx = self.pool.begin().await?;
        let parts = remove_upload(&mut tx, upload_id).await?;
        let previous = upsert_object(&mut tx, object).await?;
        insert_events(&mut tx, events, now_ms).await?;
        tx.commit().await?;
        let used: HashSet<&str> = object.segments.iter().map(|s| s.blob.as_str()).collect();
        let unused_parts = parts
            .into_iter()
            .filter(|p| !used.contains(p.blob.as_str()))
            .collect();
        Ok(Completed {
            previous,
            unused_parts,
        })
    }

    async fn abort_upload(&self, upload_id: &str) -> Result<Vec<PartRecord>, ObjectError> {
        let mut tx = self.pool.begin().await?;
        let parts = remove_upload(&mut tx, upload_id).await?;
        tx.commit().await?;
        Ok(parts)
    }

    async fn referenced_blobs(&self) -> Result<HashSet<String>, StoreError> {
        let mut blobs = HashSet::new();
        let objects = sqlx::query("SELECT bucket, key, record FROM objects")
            .fetch_all(&self.pool)
            .await?;
        for r in &objects {
            let object = decode_object(r.get(0), r.get(1), r.get(2))?;
            blobs.extend(object.segments.into_iter().map(|s| s.blob));
        }
        let parts: Vec<String> = sqlx::query_scalar("SELECT record FROM upload_parts")
            .fetch_all(&self.pool)
            .await?;
        for j in &parts {
            blobs.insert(decode_part(j)?.blob);
        }
        Ok(blobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_is_exact() {
        assert_eq!(numbered("a = ? AND b < ?"), "a = $1 AND b < $2");
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("a").as_deref(), Some("b"));
        assert_eq!(prefix_successor("a%").as_deref(), Some("a&"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("x\u{10FFFF}").as_deref(), Some("y"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        let (clause, values) = key_range("p/", Some("p/b"));
        assert_eq!(clause, " AND key > ? AND key < ?");
        assert_eq!(values, vec!["p/b".to_string(), "p0".to_string()]);
        let (clause, values) = key_range("p/", Some("a"));
        assert_eq!(clause, " AND key >= ? AND key < ?");
        assert_eq!(values, vec!["p/".to_string(), "p0".to_string()]);
    }
}
