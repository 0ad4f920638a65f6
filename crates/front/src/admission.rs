//! Which connections the node holds: a cap on all of them and a share per source.
//!
//! A connection is *busy* while one of its requests is being served (until its response body
//! has been sent) and *idle* otherwise: waiting for its first request, between requests, or in
//! the middle of a request head that has not arrived yet. When a new connection would take a
//! source past its share, or the node past its cap, the oldest idle connection of that source
//! (or, at the cap, of the source holding the most, else of any source) is closed to make room;
//! if there is none, the new connection is refused. So a client opening connections it never
//! uses pays with its own connections, and a client that sends its request promptly is served
//! however many idle ones somebody else holds, even from the same address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::Notify;

/// Who a connection belongs to, for its share.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A client on the network, by its address.
    Peer(IpAddr),
    /// A function's environment reaching the node's API from inside its sandbox, by function
    /// name: all its environments share one share.
    Function(String),
}

impl Source {
    /// The source the front recorded on a request; a request that did not come through the
    /// front (an in-process harness) counts as one loopback peer.
    pub fn of(extensions: &http::Extensions) -> Source {
        extensions
            .get::<Source>()
            .cloned()
            .unwrap_or(Source::Peer(std::net::Ipv4Addr::LOCALHOST.into()))
    }

    /// The client's address as a service reports it (`sourceIp`); a function reaching the node
    /// from its sandbox is on the loopback address.
    pub fn ip(&self) -> IpAddr {
        match self {
            Source::Peer(ip) => *ip,
            Source::Function(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        }
    }
}

/// The state of one connection, shared between its task and the registry.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// Requests being served on it (0 or 1 for HTTP/1.1).
    busy: AtomicUsize,
    /// Milliseconds since the registry's epoch when it last became idle.
    idle_since_ms: AtomicU64,
    /// Notified when the registry closes it.
    pub(crate) closed: Notify,
    epoch: Instant,
}

impl ConnState {
    pub(crate) fn begin(self: &Arc<Self>) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard {
            state: self.clone(),
        }
    }
}

/// Held while a request is served; dropping it makes the connection idle again.
#[derive(Debug)]
pub(crate) struct BusyGuard {
    state: Arc<ConnState>,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let ms = self.state.epoch.elapsed().as_millis() as u64;
        self.state.idle_since_ms.store(ms, Ordering::Release);
        self.state.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Entry {
    source: Source,
    state: Arc<ConnState>,
}

#[derive(Default)]
struct Table {
    next: u64,
    entries: HashMap<u64, Entry>,
    per_source: HashMap<Source, usize>,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(n) = self.per_source.get_mut(&entry.source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&entry.source);
            }
        }
        Some(entry)
    }

    /// The connection idle the longest, of `source` (or of any source with `None`).
    fn oldest_idle(&self, source: Option<&Source>) -> Option<u64> {
        self.entries
            .iter()
            .filter(|(_, e)| source.is_none_or(|s| &e.source == s))
            .filter(|(_, e)| e.state.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(id, e)| (e.state.idle_since_ms.load(Ordering::Acquire), **id))
            .map(|(id, _)| *id)
    }
}

/// The connection registry.
pub(crate) struct Admission {
    max: usize,
    per_source: usize,
    epoch: Instant,
    table: Mutex<Table>,
    refused: AtomicU64,
    evicted: AtomicU64,
}

/// A connection's place in the registry; dropping it frees the place.
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    id: u64,
    pub(crate) state: Arc<ConnState>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.lock().remove(self.id);
    }
}

impl Admission {
    pub(crate) fn new(max: usize, per_source: usize) -> Arc<Admission> {
        Arc::new(Admission {
            max: max.max(1),
            per_source: per_source.clamp(1, max.max(1)),
            epoch: Instant::now(),
            table: Mutex::new(Table::default()),
            refused: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for a new connection from `source`, closing an idle one to make room if
    /// needed; `None` when there is no room.
    pub(crate) fn admit(self: &Arc<Self>, source: Source) -> Option<Ticket> {
        let mut table = self.lock();
        let mine = table.per_source.get(&source).copied().unwrap_or(0);
        if mine >= self.per_source || table.entries.len() >= self.max {
            let victim = if mine >= self.per_source {
                table.oldest_idle(Some(&source))
            } else {
                // The node is full: the source holding the most gives way, else any idle one.
                let largest = table
                    .per_source
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .map(|(s, _)| s.clone());
                table
                    .oldest_idle(largest.as_ref())
                    .or_else(|| table.oldest_idle(None))
            };
            match victim.and_then(|id| table.remove(id)) {
                Some(entry) => {
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                    entry.state.closed.notify_one();
                }
                None => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let id = table.next;
        table.next += 1;
        let state = Arc::new(ConnState {
            busy: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            closed: Notify::new(),
            epoch: self.epoch,
        });
        table.entries.insert(
            id,
            Entry {
                source: source.clone(),
                state: state.clone(),
            },
        );
        *table.per_source.entry(source).or_insert(0) += 1;
        Some(Ticket {
            admission: self.clone(),
            id,
            state,
        })
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            open: self.lock().entries.len(),
            refused: self.refused.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
        }
    }
}

/// Counts of the front's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Connections held now.
    pub open: usize,
    /// Connections refused because their source (or the node) had no idle one to give up.
    pub refused: u64,
    /// Idle connections closed to make room for new ones.
    pub evicted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(last: u8) -> Source {
        Source::Peer(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn a_source_past_its_share_gives_up_its_oldest_idle_connection() {
        let a = Admission::new(10, 2);
        let first = a.admit(peer(1)).unwrap();
        let _second = a.admit(peer(1)).unwrap();
        let _third = a.admit(peer(1)).unwrap();
        assert_eq!(a.stats().evicted, 1);
        assert_eq!(a.stats().open, 2);
        // The first one was told to close; dropping its ticket later changes nothing.
        drop(first);
        assert_eq!(a.stats().open, 2);
    }

    #[test]
    fn busy_connections_are_never_closed_and_refuse_the_newcomer() {
        let a = Admission::new(10, 2);
        let one = a.admit(peer(1)).unwrap();
        let two = a.admit(peer(1)).unwrap();
        let _g1 = one.state.begin();
        let _g2 = two.state.begin();
        assert!(a.admit(peer(1)).is_none());
        assert_eq!(a.stats().refused, 1);
        // Another source still gets in.
        assert!(a.admit(peer(2)).is_some());
    }

    #[test]
    fn at_the_cap_the_largest_source_gives_way() {
        let a = Admission::new(4, 3);
        let _hog: Vec<_> = (0..3).map(|_| a.admit(peer(1)).unwrap()).collect();
        let quiet = a.admit(peer(2)).unwrap();
        let _busy = quiet.state.begin();
        let _new = a.admit(peer(3)).unwrap();
        let stats = a.stats();
        assert_eq!((stats.open, stats.evicted), (4, 1));
        assert_eq!(a.lock().per_source.get(&peer(1)), Some(&2));
    }

    #[test]
    fn at_the_cap_a_busy_largest_source_leaves_another_idle_one_to_give_way() {
        let a = Admission::new(3, 2);
        let hog: Vec<_> = (0..2).map(|_| a.admit(peer(1)).unwrap()).collect();
        let _busy: Vec<_> = hog.iter().map(|t| t.state.begin()).collect();
        let _idle = a.admit(peer(2)).unwrap();
        let _new = a.admit(peer(3)).unwrap();
        let stats = a.stats();
        assert_eq!((stats.open, stats.evicted, stats.refused), (3, 1, 0));
        assert_eq!(a.lock().per_source.get(&peer(2)), None);
    }

    #[test]
    fn functions_have_their_own_share() {
        let a = Admission::new(10, 1);
        let f = a.admit(Source::Function("f".into())).unwrap();
        let _busy = f.state.begin();
        assert!(a.admit(Source::Function("f".into())).is_none());
        assert!(a.admit(Source::Function("g".into())).is_some());
        assert!(a.admit(peer(1)).is_some());
    }
}
