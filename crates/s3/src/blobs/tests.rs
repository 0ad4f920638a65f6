use super::*;
use futures_util::StreamExt;

fn md5_of(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

async fn collect(blobs: &Blobs, segments: &[Segment], start: u64, end: u64) -> io::Result<Vec<u8>> {
    let mut stream = std::pin::pin!(blobs.read(segments, start, end));
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        assert!(chunk.len() <= CHUNK, "chunks are bounded");
        assert!(!chunk.is_empty());
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn put(blobs: &Blobs, bytes: &[u8], piece: usize) -> Blob {
    let mut w = blobs.create().await.unwrap();
    for chunk in bytes.chunks(piece.max(1)) {
        w.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert_eq!(w.len(), bytes.len() as u64);
    w.commit().await.unwrap()
}

fn segment(blob: &Blob) -> Segment {
    Segment {
        blob: blob.id.clone(),
        size: blob.size,
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[tokio::test]
async fn written_blobs_commit_with_their_md5_and_read_back_in_ranges_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::open(dir.path(), u64::MAX).unwrap();
    // Larger than a chunk, written in odd pieces.
    let a = pattern(CHUNK + 12_345, 1);
    let b = pattern(100, 2);
    let c = pattern(2 * CHUNK + 1, 3);
    let (ba, bb, bc) = (
        put(&blobs, &a, 7_000).await,
        put(&blobs, &b, 1).await,
        put(&blobs, &c, CHUNK * 3).await,
    );
    assert_eq!(ba.md5, md5_of(&a));
    assert_eq!(bb.md5, md5_of(&b));
    assert_eq!(bc.size, c.len() as u64);
    assert_ne!(ba.id, bb.id);
    assert_eq!(ba.id.len(), 32, "a simple uuid");
    assert!(blobs.path(&ba.id).is_file());
    assert_eq!(
        files(&dir.path().join("staging")),
        0,
        "staging is left empty"
    );

    let segments = [segment(&ba), segment(&bb), segment(&bc)];
    let all: Vec<u8> = [a.clone(), b.clone(), c.clone()].concat();
    let total = all.len() as u64;
    assert_eq!(collect(&blobs, &segments, 0, total).await.unwrap(), all);
    let al = a.len() as u64;
    for (s, e) in [
        (0, 0),
        (0, 1),
        (5, al),
        (al - 3, al + 3),    // across a boundary
        (al + 10, al + 100), // within the middle blob, to its end
        (al - 1, al + 101),  // the whole middle blob and a byte either side
        (total - 1, total),
        (1, total - 1),
    ] {
        assert_eq!(
            collect(&blobs, &segments, s, e).await.unwrap(),
            all[s as usize..e as usize],
            "{s}..{e}"
        );
    }
    // A range past the content is an error.
    assert!(collect(&blobs, &segments, 0, total + 1).await.is_err());
    assert!(collect(&blobs, &segments, 5, 4).await.is_err());
    // An empty object.
    let empty = put(&blobs, b"", 1).await;
    assert_eq!(empty.md5, md5_of(b""));
    assert!(
        collect(&blobs, &[segment(&empty)], 0, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // A blob removed underneath a reader is an error, not a short read.
    blobs.remove([bb.id.clone()]).await;
    assert!(!blobs.path(&bb.id).exists());
    assert!(collect(&blobs, &segments, 0, total).await.is_err());
    // Removing again is harmless.
    blobs.remove([bb.id.clone(), "never-was".to_string()]).await;
}

#[tokio::test]
async fn copy_makes_a_new_blob_of_a_range() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::open(dir.path(), u64::MAX).unwrap();
    let a = pattern(CHUNK + 10, 4);
    let b = pattern(500, 5);
    let segments = [
        segment(&put(&blobs, &a, 4096).await),
        segment(&put(&blobs, &b, 4096).await),
    ];
    let all = [a.clone(), b].concat();
    let (s, e) = (CHUNK as u64 - 5, all.len() as u64 - 7);
    let copy = blobs.copy(&segments, s, e).await.unwrap();
    let expected = &all[s as usize..e as usize];
    assert_eq!(copy.size, expected.len() as u64);
    assert_eq!(copy.md5, md5_of(expected));
    assert_eq!(std::fs::read(blobs.path(&copy.id)).unwrap(), expected);
    assert!(
        blobs
            .copy(&segments, 0, all.len() as u64 + 1)
            .await
            .is_err()
    );
    assert_eq!(
        files(&dir.path().join("staging")),
        0,
        "a failed copy leaves nothing staged"
    );
}

#[tokio::test]
async fn a_crash_leaves_nothing_behind_once_reopened_and_swept() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::open(dir.path(), u64::MAX).unwrap();
    let kept = put(&blobs, b"kept", 2).await;
    let orphan = put(&blobs, b"orphan", 2).await;
    // A writer dropped without commit removes its staging file.
    let mut dropped = blobs.create().await.unwrap();
    dropped.write(Bytes::from_static(b"half")).await.unwrap();
    drop(dropped);
    for _ in 0..100 {
        if files(&dir.path().join("staging")) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(files(&dir.path().join("staging")), 0);
    // A crashed writer's file (no drop ran) is emptied on open.
    let mut crashed = blobs.create().await.unwrap();
    crashed.write(pattern(CHUNK + 1, 6).into()).await.unwrap();
    std::mem::forget(crashed);
    std::fs::create_dir(dir.path().join("staging/stray-dir")).unwrap();
    assert_eq!(files(&dir.path().join("staging")), 2);

    let reopened = Blobs::open(dir.path(), u64::MAX).unwrap();
    assert_eq!(files(&dir.path().join("staging")), 0);
    // The blob whose metadata never committed is swept; the referenced one stays.
    let referenced = HashSet::from([kept.id.clone(), "referenced-but-missing".to_string()]);
    assert_eq!(reopened.sweep(&referenced).await.unwrap(), 1);
    assert!(reopened.path(&kept.id).is_file());
    assert!(!reopened.path(&orphan.id).exists());
    assert_eq!(reopened.sweep(&referenced).await.unwrap(), 0);
    assert_eq!(
        collect(&reopened, &[segment(&kept)], 0, 4).await.unwrap(),
        b"kept"
    );
}

#[tokio::test]
async fn content_is_bounded_and_what_is_freed_counts_again() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::open(dir.path(), 1000).unwrap();
    let kept = put(&blobs, &pattern(600, 1), 100).await;
    // 600 + 500 is past the bound: the write that crosses it fails and reserves nothing.
    let mut w = blobs.create().await.unwrap();
    w.write(pattern(300, 2).into()).await.unwrap();
    let e = w.write(pattern(200, 3).into()).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    assert!(!blobs.has_room(101) && blobs.has_room(100));
    // A discarded upload gives its bytes back; so does a removed blob.
    w.discard().await;
    assert!(blobs.has_room(400) && !blobs.has_room(401));
    blobs.remove([kept.id.clone()]).await;
    assert!(blobs.has_room(1000));
    // Dropping an upload gives its bytes back too.
    let mut dropped = blobs.create().await.unwrap();
    dropped.write(pattern(900, 4).into()).await.unwrap();
    assert!(!blobs.has_room(101));
    drop(dropped);
    assert!(blobs.has_room(1000));
    // At start-up the content kept is counted.
    let again = put(&blobs, &pattern(700, 5), 700).await;
    let reopened = Blobs::open(dir.path(), 1000).unwrap();
    reopened
        .sweep(&[again.id].into_iter().collect())
        .await
        .unwrap();
    assert!(reopened.has_room(300) && !reopened.has_room(301));
}
