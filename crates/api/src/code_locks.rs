//! Orders writes that reference code with the garbage collection of code, per function and per
//! package, so deploying one function never waits for another's extraction.
//!
//! - A write of a function takes its function's lock first (writes of one function, its
//!   policies included, stay in order), then the locks of the packages it is about to
//!   reference, in sorted order, held across storing the package and committing the reference.
//! - Garbage collection of a package takes that package's lock, then checks that nothing refers
//!   to it before removing it. It never runs while its caller holds package locks.
//!
//! Function locks are always taken before package locks and package locks in sorted order, so
//! two writes can never wait for each other in a cycle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use tokio::sync::OwnedMutexGuard;

type Lock = tokio::sync::Mutex<()>;

/// Keyed async locks; a key's lock lives while someone holds or waits for it.
#[derive(Default)]
pub struct CodeLocks {
    locks: Mutex<HashMap<String, Weak<Lock>>>,
}

/// Held locks; released when dropped.
#[must_use = "the locks are released when this is dropped"]
pub struct Held(#[allow(dead_code)] Vec<OwnedMutexGuard<()>>);

impl CodeLocks {
    fn lock_of(&self, key: String) -> Arc<Lock> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
            return lock;
        }
        if locks.len() >= 256 {
            locks.retain(|_, w| w.strong_count() > 0);
        }
        let lock = Arc::new(Lock::default());
        locks.insert(key, Arc::downgrade(&lock));
        lock
    }

    /// The lock of one function's writes.
    pub async fn function(&self, name: &str) -> Held {
        Held(vec![
            self.lock_of(format!("function:{name}")).lock_owned().await,
        ])
    }

    /// The locks of these packages (hex SHA-256), taken in sorted order.
    pub async fn packages<I, S>(&self, hashes: I) -> Held
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut keys: Vec<String> = hashes
            .into_iter()
            .map(|h| format!("package:{}", h.as_ref()))
            .collect();
        keys.sort();
        keys.dedup();
        let mut held = Vec::with_capacity(keys.len());
        for key in keys {
            held.push(self.lock_of(key).lock_owned().await);
        }
        Held(held)
    }

    /// Keys with a live lock (for tests).
    #[cfg(test)]
    fn live(&self) -> usize {
        let locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        locks.values().filter(|w| w.strong_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn different_packages_do_not_wait_for_each_other() {
        let locks = Arc::new(CodeLocks::default());
        let a = locks.packages(["aa"]).await;
        // Another package is free while `aa` is held...
        let b = tokio::time::timeout(Duration::from_secs(1), locks.packages(["bb"]))
            .await
            .expect("an unrelated package is not blocked");
        // ...and the same one waits.
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.packages(["cc", "aa"]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the same package waits");
        drop(a);
        let c = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .unwrap()
            .unwrap();
        drop((b, c));
        assert_eq!(locks.live(), 0, "no lock outlives its holders");
    }

    #[tokio::test]
    async fn functions_are_ordered_one_by_one() {
        let locks = CodeLocks::default();
        let f = locks.function("f").await;
        let g = tokio::time::timeout(Duration::from_secs(1), locks.function("g")).await;
        assert!(g.is_ok(), "another function is not blocked");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), locks.function("f"))
                .await
                .is_err()
        );
        drop(f);
    }
}
