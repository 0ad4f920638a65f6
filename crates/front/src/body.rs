//! Reading a request body within a byte limit, a time limit and, for bodies that are read before
//! their sender is proven, a node-wide byte budget.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget's unit.
const UNIT: usize = 1024;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// It is longer than the limit (declared or as it arrived).
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// Nothing of it arrived for the idle timeout.
    #[error("the body stopped arriving")]
    Stalled,
    /// The budget for bodies not yet proven did not free up in time.
    #[error("too many unverified request bodies are being read")]
    Busy,
    /// The connection failed while it was read.
    #[error("the body could not be read: {0}")]
    Broken(String),
}

/// Bytes of request bodies that may be held before their signatures are checked, node-wide.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    units: Arc<Semaphore>,
    total: usize,
    wait: Duration,
}

/// A share of the [`BodyBudget`]; dropping it gives the bytes back.
#[derive(Debug)]
pub struct Reservation {
    _permit: Option<OwnedSemaphorePermit>,
}

impl BodyBudget {
    /// `bytes` in all; a reader waits at most `wait` for its share.
    pub fn new(bytes: usize, wait: Duration) -> BodyBudget {
        let units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            units: Arc::new(Semaphore::new(units)),
            total: units * UNIT,
            wait,
        }
    }

    /// Bytes free now.
    pub fn available(&self) -> usize {
        self.units.available_permits() * UNIT
    }

    async fn take(
        &self,
        bytes: usize,
        held: &mut Option<OwnedSemaphorePermit>,
    ) -> Result<(), BodyError> {
        if bytes == 0 {
            return Ok(());
        }
        if bytes > self.total {
            return Err(BodyError::Busy);
        }
        let units = u32::try_from(bytes.div_ceil(UNIT)).map_err(|_| BodyError::Busy)?;
        let permit = tokio::time::timeout(self.wait, self.units.clone().acquire_many_owned(units))
            .await
            .map_err(|_| BodyError::Busy)?
            .map_err(|_| BodyError::Busy)?;
        match held {
            Some(p) => p.merge(permit),
            None => *held = Some(permit),
        }
        Ok(())
    }
}

/// Reads `body` whole, refusing it past `limit` bytes (at once when `declared` — its
/// Content-Length — says so) or when no byte arrives for `idle`. Each chunk is shown to `seen`
/// as it arrives (to hash it). With a `budget`, the bytes are drawn from it before they are
/// buffered and stay drawn until the returned [`Reservation`] is dropped.
pub async fn read_body(
    body: Body,
    declared: Option<usize>,
    limit: usize,
    idle: Duration,
    budget: Option<&BodyBudget>,
    mut seen: impl FnMut(&[u8]),
) -> Result<(Bytes, Reservation), BodyError> {
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut held = None;
    let mut drawn = 0;
    if let (Some(budget), Some(n)) = (budget, declared) {
        budget.take(n, &mut held).await?;
        drawn = n;
    }
    let mut body = body;
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(BodyError::Stalled),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Broken(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        let after = buf.len() + data.len();
        if let Some(budget) = budget
            && after > drawn
        {
            budget.take(after - drawn, &mut held).await?;
            drawn = after;
        }
        seen(&data);
        buf.extend_from_slice(&data);
    }
    Ok((buf.freeze(), Reservation { _permit: held }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    const SECOND: Duration = Duration::from_secs(1);

    fn body_of(chunks: &[&'static [u8]]) -> Body {
        let items: Vec<Result<Bytes, std::io::Error>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Body::from_stream(stream::iter(items))
    }

    #[tokio::test]
    async fn a_body_is_read_within_its_limit_and_shown_chunk_by_chunk() {
        let mut seen = Vec::new();
        let (bytes, _) = read_body(body_of(&[b"ab", b"cd"]), None, 4, SECOND, None, |c| {
            seen.push(c.len())
        })
        .await
        .unwrap();
        assert_eq!(&bytes[..], b"abcd");
        assert_eq!(seen, [2, 2]);
        let err = read_body(body_of(&[b"abc", b"de"]), None, 4, SECOND, None, |_| {}).await;
        assert!(matches!(err, Err(BodyError::TooLarge { limit: 4 })));
        // A declared length past the limit is refused before anything is read.
        let err = read_body(body_of(&[]), Some(5), 4, SECOND, None, |_| {}).await;
        assert!(matches!(err, Err(BodyError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn unproven_bodies_share_one_budget_and_give_it_back() {
        let budget = BodyBudget::new(4 * UNIT, Duration::from_millis(50));
        let chunk: &'static [u8] = &[0u8; 3 * UNIT];
        let read = |declared| {
            read_body(
                body_of(&[chunk]),
                declared,
                1 << 20,
                SECOND,
                Some(&budget),
                |_| {},
            )
        };
        let (_, held) = read(None).await.unwrap();
        assert_eq!(budget.available(), UNIT);
        // A second one does not fit while the first is held...
        assert!(matches!(
            read(Some(chunk.len())).await,
            Err(BodyError::Busy)
        ));
        // ...and does once it is given back.
        drop(held);
        assert_eq!(budget.available(), 4 * UNIT);
        drop(read(Some(chunk.len())).await.unwrap());
        assert_eq!(budget.available(), 4 * UNIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_given_up() {
        let first = stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"a"))]);
        let body = Body::from_stream(futures_util::StreamExt::chain(first, stream::pending()));
        let err = read_body(body, None, 10, Duration::from_secs(5), None, |_| {}).await;
        assert!(matches!(err, Err(BodyError::Stalled)));
    }
}
