//! The node's capacity ledger: what live environments reserve against the node-wide ceilings.
//!
//! Every environment reserves, for its whole life, its function's `MemorySize`, its `/tmp`
//! (`EphemeralStorage`) and its pids limit; provisioned environments too. An environment that
//! would take the sum past a ceiling is not started (the pool first retires idle environments
//! to make room, then refuses the invocation): nothing is started only to be killed. The kernel
//! enforces the same ceilings on the node's cgroup; this ledger keeps the node from ever
//! reaching them.

use std::sync::{Arc, Mutex, PoisonError};

/// The node-wide ceilings; `None` leaves that resource unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ceilings {
    pub memory_bytes: Option<u64>,
    /// `/tmp` disk of all environments together.
    pub tmp_bytes: Option<u64>,
    /// Processes and threads of all environments together.
    pub pids: Option<u64>,
}

/// What one environment reserves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    pub memory_bytes: u64,
    pub tmp_bytes: u64,
    pub pids: u64,
}

/// The resource that had no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Memory,
    TmpDisk,
    Pids,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Memory => "memory",
            Resource::TmpDisk => "/tmp disk",
            Resource::Pids => "processes",
        })
    }
}

/// The sum of live reservations, against the ceilings. Shared by the pool and every
/// [`Reservation`].
#[derive(Debug)]
pub(crate) struct Ledger {
    ceilings: Ceilings,
    used: Mutex<Demand>,
}

/// One environment's share; given back when dropped (with the environment).
#[derive(Debug)]
pub(crate) struct Reservation {
    ledger: Arc<Ledger>,
    demand: Demand,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut used = self.ledger.lock();
        used.memory_bytes = used.memory_bytes.saturating_sub(self.demand.memory_bytes);
        used.tmp_bytes = used.tmp_bytes.saturating_sub(self.demand.tmp_bytes);
        used.pids = used.pids.saturating_sub(self.demand.pids);
    }
}

fn fits(used: u64, more: u64, ceiling: Option<u64>) -> bool {
    ceiling.is_none_or(|c| used.saturating_add(more) <= c)
}

impl Ledger {
    pub fn new(ceilings: Ceilings) -> Arc<Ledger> {
        Arc::new(Ledger {
            ceilings,
            used: Mutex::new(Demand::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Demand> {
        self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn ceilings(&self) -> Ceilings {
        self.ceilings
    }

    /// What live environments reserve now.
    pub fn used(&self) -> Demand {
        *self.lock()
    }

    /// Whether `demand` could ever fit, with nothing else alive.
    pub fn could_fit(&self, demand: &Demand) -> Result<(), Resource> {
        self.check(&Demand::default(), demand)
    }

    fn check(&self, used: &Demand, d: &Demand) -> Result<(), Resource> {
        let c = &self.ceilings;
        if !fits(used.memory_bytes, d.memory_bytes, c.memory_bytes) {
            return Err(Resource::Memory);
        }
        if !fits(used.tmp_bytes, d.tmp_bytes, c.tmp_bytes) {
            return Err(Resource::TmpDisk);
        }
        if !fits(used.pids, d.pids, c.pids) {
            return Err(Resource::Pids);
        }
        Ok(())
    }

    /// Reserves `demand` if it fits under every ceiling, else says which one it would pass.
    pub fn try_reserve(self: &Arc<Self>, demand: Demand) -> Result<Reservation, Resource> {
        let mut used = self.lock();
        self.check(&used, &demand)?;
        used.memory_bytes += demand.memory_bytes;
        used.tmp_bytes += demand.tmp_bytes;
        used.pids += demand.pids;
        Ok(Reservation {
            ledger: self.clone(),
            demand,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn env(memory_mb: u64, tmp_mb: u64) -> Demand {
        Demand {
            memory_bytes: memory_mb * MB,
            tmp_bytes: tmp_mb * MB,
            pids: 1024,
        }
    }

    #[test]
    fn reservations_stay_under_every_ceiling_and_come_back() {
        let ledger = Ledger::new(Ceilings {
            memory_bytes: Some(384 * MB),
            tmp_bytes: Some(2048 * MB),
            pids: Some(4096),
        });
        let a = ledger.try_reserve(env(128, 512)).unwrap();
        let b = ledger.try_reserve(env(256, 512)).unwrap();
        assert_eq!(ledger.used(), env(384, 1024).with_pids(2048));
        // Memory is full: a third is refused, saying which ceiling.
        assert_eq!(
            ledger.try_reserve(env(128, 512)).unwrap_err(),
            Resource::Memory
        );
        drop(a);
        let c = ledger.try_reserve(env(128, 512)).unwrap();
        // /tmp: 1,024 MB used of 2,048; 1,025 more do not fit.
        assert_eq!(
            ledger
                .try_reserve(Demand {
                    memory_bytes: 0,
                    tmp_bytes: 1025 * MB,
                    pids: 0
                })
                .unwrap_err(),
            Resource::TmpDisk
        );
        // pids: 2,048 used of 4,096; 2,049 more do not fit.
        assert_eq!(
            ledger
                .try_reserve(Demand {
                    memory_bytes: 0,
                    tmp_bytes: 0,
                    pids: 2049
                })
                .unwrap_err(),
            Resource::Pids
        );
        drop((b, c));
        assert_eq!(ledger.used(), Demand::default());
    }

    #[test]
    fn unbounded_resources_are_only_counted() {
        let ledger = Ledger::new(Ceilings {
            memory_bytes: Some(256 * MB),
            ..Ceilings::default()
        });
        let held: Vec<_> = (0..2)
            .map(|_| ledger.try_reserve(env(128, 10_240)).unwrap())
            .collect();
        assert_eq!(ledger.used().tmp_bytes, 2 * 10_240 * MB);
        assert_eq!(ledger.try_reserve(env(1, 0)).unwrap_err(), Resource::Memory);
        // Larger than the ceiling itself: could never fit.
        assert_eq!(ledger.could_fit(&env(512, 0)), Err(Resource::Memory));
        assert_eq!(ledger.could_fit(&env(256, 0)), Ok(()));
        drop(held);
    }

    impl Demand {
        fn with_pids(mut self, pids: u64) -> Demand {
            self.pids = pids;
            self
        }
    }
}
