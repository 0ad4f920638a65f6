use ignis_logs::{Cursor, LogStore, Record};
use std::time::Duration;

const GROUP: &str = "/aws/lambda/hello";
const S1: &str = "2024/05/06/[$LATEST]00000000000000000000000000000001";
const S2: &str = "2024/05/06/[$LATEST]00000000000000000000000000000002";

fn messages(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.message.as_str()).collect()
}

#[tokio::test]
async fn appends_are_read_back_per_stream_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), ignis_logs::DEFAULT_MAX_BYTES_PER_GROUP).unwrap();
    store.append(GROUP, S1, 1000, "START RequestId: a Version: $LATEST");
    store.append(GROUP, S2, 1500, "other env");
    store.append(GROUP, S1, 2000, "multi\nline\twith tab");
    store.append("/aws/lambda/other", S1, 1200, "elsewhere");

    let one = store.read(GROUP, Some(S1), None).await.unwrap();
    assert_eq!(
        messages(&one),
        [
            "START RequestId: a Version: $LATEST",
            "multi\nline\twith tab"
        ]
    );
    assert_eq!(one[0].timestamp_ms, 1000);
    assert_eq!(one[0].stream, S1);

    let all = store.read(GROUP, None, None).await.unwrap();
    assert_eq!(
        messages(&all),
        [
            "START RequestId: a Version: $LATEST",
            "other env",
            "multi\nline\twith tab"
        ]
    );

    let since = store.read(GROUP, None, Some(1500)).await.unwrap();
    assert_eq!(messages(&since), ["other env", "multi\nline\twith tab"]);

    let streams = store.list_streams(GROUP).await.unwrap();
    let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, [S1, S2]);
    assert!(streams.iter().all(|s| s.size_bytes > 0));

    assert!(
        store
            .list_streams("/aws/lambda/none")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .read("/aws/lambda/none", None, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.dropped(), 0);
}

#[tokio::test]
async fn records_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LogStore::open(dir.path(), 1 << 20).unwrap();
        store.append(GROUP, S1, 1, "kept");
        store.flush().await;
    }
    let store = LogStore::open(dir.path(), 1 << 20).unwrap();
    let records = store.read(GROUP, None, None).await.unwrap();
    assert_eq!(messages(&records), ["kept"]);
}

#[tokio::test]
async fn a_group_over_budget_loses_its_oldest_streams() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 10_000;
    let store = LogStore::open(dir.path(), budget).unwrap();
    let line = "x".repeat(100);
    for s in 0..20 {
        let stream = format!("2024/05/06/[$LATEST]{s:032x}");
        for i in 0..10 {
            store.append(GROUP, &stream, s * 100 + i, &line);
        }
        store.flush().await;
        // Distinct modification times so "oldest" is well defined.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let streams = store.list_streams(GROUP).await.unwrap();
    let total: u64 = streams.iter().map(|s| s.size_bytes).sum();
    assert!(
        total <= budget,
        "group holds {total} bytes, budget {budget}"
    );
    assert!(streams.len() < 20);
    // The newest stream survives whole.
    let newest = format!("2024/05/06/[$LATEST]{:032x}", 19);
    assert!(streams.iter().any(|s| s.name == newest));
    assert_eq!(
        store.read(GROUP, Some(&newest), None).await.unwrap().len(),
        10
    );
    // The oldest is gone.
    let oldest = format!("2024/05/06/[$LATEST]{:032x}", 0);
    assert!(streams.iter().all(|s| s.name != oldest));
}

#[tokio::test]
async fn a_single_stream_over_budget_keeps_its_newest_records() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 5_000;
    let store = LogStore::open(dir.path(), budget).unwrap();
    for i in 0..500 {
        store.append(GROUP, S1, i, &format!("record {i:05}"));
    }
    let records = store.read(GROUP, Some(S1), None).await.unwrap();
    let size: u64 = store.list_streams(GROUP).await.unwrap()[0].size_bytes;
    assert!(size <= budget);
    assert!(!records.is_empty());
    assert_eq!(records.last().unwrap().message, "record 00499");
    // What is left is a contiguous run of the newest records.
    let first = records[0].timestamp_ms;
    assert_eq!(records.len() as i64, 500 - first);
}

#[tokio::test]
async fn read_new_returns_only_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), 1 << 20).unwrap();
    store.append(GROUP, S1, 1, "old");
    let mut cursor = Cursor::new(Some(2));
    assert!(store.read_new(GROUP, &mut cursor).await.unwrap().is_empty());
    store.append(GROUP, S1, 3, "new one");
    store.append(GROUP, S2, 4, "new two");
    let got = store.read_new(GROUP, &mut cursor).await.unwrap();
    assert_eq!(messages(&got), ["new one", "new two"]);
    assert!(store.read_new(GROUP, &mut cursor).await.unwrap().is_empty());
}

#[tokio::test]
async fn follow_streams_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), 1 << 20).unwrap();
    store.append(GROUP, S1, 10, "before");
    let mut rx = store.follow(GROUP, None, Duration::from_millis(20));
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.message, "before");
    store.append(GROUP, S1, 20, "after");
    let second = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.message, "after");
}

#[tokio::test]
async fn oversized_messages_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), 64 << 20).unwrap();
    store.append(GROUP, S1, 1, &"é".repeat(ignis_logs::MAX_MESSAGE_BYTES));
    let records = store.read(GROUP, Some(S1), None).await.unwrap();
    assert!(records[0].message.len() <= ignis_logs::MAX_MESSAGE_BYTES);
    assert!(records[0].message.len() > ignis_logs::MAX_MESSAGE_BYTES - 4);
}
