//! Reading a request body within a byte limit, a time limit and, for bodies that are read before
//! their sender is proven, a node-wide byte budget of which each source may hold only a share.

use crate::Source;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
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

/// Bytes of request bodies that may be held before their signatures are checked, node-wide;
/// one source may hold at most a share of them, so a client sending bodies it cannot sign only
/// ever waits on itself.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    units: Arc<Semaphore>,
    total: usize,
    share: usize,
    wait: Duration,
    /// Units each source holds now (sources holding none are not kept).
    held: Held,
}

/// Units of the budget each source holds.
type Held = Arc<Mutex<HashMap<Source, usize>>>;

/// A share of the [`BodyBudget`]; dropping it gives the bytes back.
#[derive(Debug)]
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
    source: Option<(Source, Held)>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let units = self.permit.take().map_or(0, |p| p.num_permits());
        if let Some((source, held)) = self.source.take() {
            let mut held = held.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = held.get_mut(&source) {
                *n = n.saturating_sub(units);
                if *n == 0 {
                    held.remove(&source);
                }
            }
        }
    }
}

impl BodyBudget {
    /// `bytes` in all, of which one source may hold `share`; a reader waits at most `wait` for
    /// its bytes.
    pub fn new(bytes: usize, share: usize, wait: Duration) -> BodyBudget {
        let units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            units: Arc::new(Semaphore::new(units)),
            total: units * UNIT,
            share: share.clamp(UNIT, units * UNIT) / UNIT,
            wait,
            held: Arc::default(),
        }
    }

    /// Bytes free now.
    pub fn available(&self) -> usize {
        self.units.available_permits() * UNIT
    }

    async fn take(&self, bytes: usize, reservation: &mut Reservation) -> Result<(), BodyError> {
        if bytes == 0 {
            return Ok(());
        }
        if bytes > self.total {
            return Err(BodyError::Busy);
        }
        let units = bytes.div_ceil(UNIT);
        if let Some((source, _)) = &reservation.source {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            let mine = held.entry(source.clone()).or_default();
            if *mine + units > self.share {
                if *mine == 0 {
                    held.remove(source);
                }
                return Err(BodyError::Busy);
            }
            *mine += units;
        }
        let acquired = match u32::try_from(units) {
            Ok(n) => tokio::time::timeout(self.wait, self.units.clone().acquire_many_owned(n))
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        };
        let Some(permit) = acquired else {
            // Give back what was counted against the source: the reservation holds only what it
            // has acquired.
            if let Some((source, _)) = &reservation.source {
                let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(n) = held.get_mut(source) {
                    *n = n.saturating_sub(units);
                    if *n == 0 {
                        held.remove(source);
                    }
                }
            }
            return Err(BodyError::Busy);
        };
        match &mut reservation.permit {
            Some(p) => p.merge(permit),
            None => reservation.permit = Some(permit),
        }
        Ok(())
    }
}

/// Reads `body` whole, refusing it past `limit` bytes (at once when `declared` — its
/// Content-Length — says so) or when no byte arrives for `idle`. Each chunk is shown to `seen`
/// as it arrives (to hash it). With a `budget`, the bytes are drawn from it (within `source`'s
/// share) before they are buffered and stay drawn until the returned [`Reservation`] is dropped.
/// The body length a request declares (`Content-Length`), if it declares a readable one.
pub fn declared_length(headers: &http::HeaderMap) -> Option<usize> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

pub async fn read_body(
    body: Body,
    declared: Option<usize>,
    limit: usize,
    idle: Duration,
    budget: Option<(&BodyBudget, &Source)>,
    mut seen: impl FnMut(&[u8]),
) -> Result<(Bytes, Reservation), BodyError> {
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut held = Reservation {
        permit: None,
        source: budget.map(|(b, source)| (source.clone(), b.held.clone())),
    };
    let budget = budget.map(|(b, _)| b);
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
    Ok((buf.freeze(), held))
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

    fn peer(last: u8) -> Source {
        Source::Peer(std::net::IpAddr::from([127, 0, 0, last]))
    }

    #[tokio::test]
    async fn unproven_bodies_share_one_budget_and_give_it_back() {
        let budget = BodyBudget::new(4 * UNIT, 4 * UNIT, Duration::from_millis(50));
        let chunk: &'static [u8] = &[0u8; 3 * UNIT];
        let (a, b) = (peer(1), peer(2));
        let read = |declared, source| {
            read_body(
                body_of(&[chunk]),
                declared,
                1 << 20,
                SECOND,
                Some((&budget, source)),
                |_| {},
            )
        };
        let (_, held) = read(None, &a).await.unwrap();
        assert_eq!(budget.available(), UNIT);
        // A second one does not fit while the first is held...
        assert!(matches!(
            read(Some(chunk.len()), &b).await,
            Err(BodyError::Busy)
        ));
        // ...and does once it is given back.
        drop(held);
        assert_eq!(budget.available(), 4 * UNIT);
        drop(read(Some(chunk.len()), &b).await.unwrap());
        assert_eq!(budget.available(), 4 * UNIT);
        assert!(budget.held.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn one_source_holds_only_its_share() {
        let budget = BodyBudget::new(8 * UNIT, 4 * UNIT, Duration::from_millis(50));
        let chunk: &'static [u8] = &[0u8; 3 * UNIT];
        let (a, b) = (peer(1), peer(2));
        let read = |source| {
            read_body(
                body_of(&[chunk]),
                Some(chunk.len()),
                1 << 20,
                SECOND,
                Some((&budget, source)),
                |_| {},
            )
        };
        let (_, first) = read(&a).await.unwrap();
        // The same source again is past its share at once, without waiting...
        assert!(matches!(read(&a).await, Err(BodyError::Busy)));
        // ...while another source still gets its bytes.
        let (_, second) = read(&b).await.unwrap();
        assert_eq!(budget.available(), 2 * UNIT);
        drop((first, second));
        assert_eq!(budget.available(), 8 * UNIT);
        assert!(budget.held.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_given_up() {
        let first = stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"a"))]);
        let body = Body::from_stream(futures_util::StreamExt::chain(first, stream::pending()));
        let err = read_body(body, None, 10, Duration::from_secs(5), None, |_| {}).await;
        assert!(matches!(err, Err(BodyError::Stalled)));
    }
}
