//! Identity documents.

use super::SqliteBackend;
use crate::backend::IdentityRows;
use crate::{IdentityChange, IdentityDocument, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl IdentityRows for SqliteBackend {
    async fn identity_documents(&self) -> Result<Vec<IdentityDocument>, StoreError> {
        let rows = sqlx::query("SELECT kind, key, body FROM identity_entities ORDER BY kind, key")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(IdentityDocument {
                    kind: r.try_get("kind")?,
                    key: r.try_get("key")?,
                    body: r.try_get("body")?,
                })
            })
            .collect()
    }

    async fn change_identity(&self, changes: &[IdentityChange]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            match change {
                IdentityChange::Put(d) => {
                    sqlx::query(
                        "INSERT INTO identity_entities (kind, key, body) VALUES ($1, $2, $3) \
                         ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                    )
                    .bind(&d.kind)
                    .bind(&d.key)
                    .bind(&d.body)
                    .execute(&mut *tx)
                    .await?;
                }
                IdentityChange::Delete { kind, key } => {
                    sqlx::query("DELETE FROM identity_entities WHERE kind = $1 AND key = $2")
                        .bind(kind)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
