//! Leases on stored trees: an execution environment holds one on its code tree and merged
//! `/opt` for as long as it lives, and garbage collection leaves a leased directory in place.

use crate::{CodeStore, Digest};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, MutexGuard, PoisonError};

/// Who holds what, and which directories were removed (so a lease taken on a configuration
/// resolved just before its code was collected is refused rather than handed a missing tree).
#[derive(Debug, Default)]
pub(crate) struct Leases {
    held: HashMap<Digest, usize>,
    gone: HashSet<Digest>,
    /// Unreferenced packages that were leased when collected: to collect again later.
    deferred: HashSet<Digest>,
    /// Counts lease releases; `released` keeps, per key, the count at its last release, so a
    /// collection can tell whether a key was held at any moment since it looked at what is in
    /// use (see [`CodeStore::collection_mark`]).
    releases: u64,
    released: HashMap<Digest, u64>,
}

impl Leases {
    pub(crate) fn is_held(&self, d: &Digest) -> bool {
        self.held.contains_key(d)
    }

    /// `d` is (again) in the store.
    pub(crate) fn present(&mut self, d: &Digest) {
        self.gone.remove(d);
    }

    /// `d` was removed.
    pub(crate) fn removed(&mut self, d: Digest) {
        self.deferred.remove(&d);
        self.released.remove(&d);
        self.gone.insert(d);
    }

    /// Whether `d` is held now or was released after `mark`.
    pub(crate) fn held_since(&self, d: &Digest, mark: u64) -> bool {
        self.is_held(d) || self.released.get(d).is_some_and(|at| *at >= mark)
    }

    /// `d` is unreferenced but leased: collect it once its leases are gone.
    pub(crate) fn defer(&mut self, d: Digest) {
        self.deferred.insert(d);
    }
}

/// Keeps the leased trees from garbage collection until dropped.
#[derive(Debug)]
pub struct CodeLease {
    store: Arc<CodeStore>,
    digests: Vec<Digest>,
}

impl Drop for CodeLease {
    fn drop(&mut self) {
        let mut leases = self.store.leases();
        leases.releases += 1;
        let at = leases.releases;
        for d in &self.digests {
            if let Some(n) = leases.held.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    leases.held.remove(d);
                    leases.released.insert(*d, at);
                }
            }
        }
    }
}

impl CodeStore {
    pub(crate) fn leases(&self) -> MutexGuard<'_, Leases> {
        self.leases.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leases the trees `digests` (packages, or merged layer keys). `None` if one of them was
    /// removed since it was last stored: the caller resolves its configuration again.
    pub fn lease(self: &Arc<Self>, digests: &[Digest]) -> Option<CodeLease> {
        let mut leases = self.leases();
        if digests.iter().any(|d| leases.gone.contains(d)) {
            return None;
        }
        for d in digests {
            *leases.held.entry(*d).or_default() += 1;
        }
        Some(CodeLease {
            store: self.clone(),
            digests: digests.to_vec(),
        })
    }

    /// Taken by a collection before it reads what is in use; [`CodeStore::retain_merged`] then
    /// also keeps whatever was held at any moment since, so a directory leased by a write that
    /// committed its reference after that read is not removed.
    pub fn collection_mark(&self) -> u64 {
        self.leases().releases + 1
    }

    /// Packages that were unreferenced but leased when last collected; taken, for the next
    /// collection to try again.
    pub fn take_deferred(&self) -> Vec<Digest> {
        let mut leases = self.leases();
        let held: Vec<Digest> = leases
            .deferred
            .iter()
            .filter(|d| leases.held.contains_key(d))
            .copied()
            .collect();
        let free: Vec<Digest> = leases
            .deferred
            .drain()
            .filter(|d| !held.contains(d))
            .collect();
        leases.deferred.extend(held);
        free
    }
}
