//! Usage metering: the invoker's in-memory counts are added to the store every few seconds (and
//! once more at shutdown); `ignis usage` prints them.

use ignis_invoker::Invoker;
use ignis_store::{Store, Usage};
use std::path::Path;
use std::time::Duration;

/// How often counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Writes what the invoker has counted since the last flush.
pub(crate) async fn flush(invoker: &Invoker, store: &Store) {
    let batch: Vec<Usage> = invoker
        .take_usage()
        .into_iter()
        .map(|u| Usage {
            function_name: u.function,
            requests: u.requests,
            mb_ms: u.mb_ms,
        })
        .collect();
    if let Err(e) = store.add_usage(&batch, now_ms()).await {
        tracing::warn!(error = %e, "cannot record usage; these counts are lost");
    }
}

/// Flushes every [`FLUSH_EVERY`] until `stop` fires.
pub(crate) fn spawn(
    invoker: Invoker,
    store: Store,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(FLUSH_EVERY) => flush(&invoker, &store).await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    })
}

/// `ignis usage`: requests and GB-seconds per function, read beside a running node.
pub async fn report(data_dir: &Path) -> Result<String, ignis_store::StoreError> {
    let db = crate::data_dir::metadata_db(data_dir);
    let all = ignis_store::read_usage(&db).await?;
    let mut out = format!(
        "{:<64} {:>12} {:>16}\n",
        "FUNCTION", "REQUESTS", "GB-SECONDS"
    );
    for u in all {
        out.push_str(&format!(
            "{:<64} {:>12} {:>16.6}\n",
            u.function_name,
            u.requests,
            u.gb_seconds()
        ));
    }
    Ok(out)
}
