//! The node-wide ceilings: what all execution environments together may hold (memory, pids,
//! `/tmp` disk) and how many bytes the asynchronous queue and the object storage hold, from the
//! flags or, by default, from what this host has, with headroom for the server and the rest of
//! the host.

use std::path::Path;

/// Async queue bytes per function, by default.
pub const ASYNC_QUEUE_BYTES_PER_FUNCTION: u64 = 64 << 20;
/// Async queue bytes for the whole node, by default.
pub const ASYNC_QUEUE_BYTES: u64 = 1 << 30;

/// The ceilings as configured (`--max-memory`, `--max-pids`, `--max-tmp-disk`,
/// `--max-async-queue-bytes`, `--max-async-queue-bytes-per-function`, `--max-object-storage`);
/// `None` takes the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct CeilingConfig {
    pub max_memory_mb: Option<u64>,
    pub max_pids: Option<u64>,
    pub max_tmp_disk_mb: Option<u64>,
    pub max_async_queue_bytes: Option<u64>,
    pub max_async_queue_bytes_per_function: Option<u64>,
    pub max_object_storage_mb: Option<u64>,
}

/// The ceilings chosen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chosen {
    pub environments: ignis_invoker::Ceilings,
    pub queue: ignis_engine::QueueBounds,
    /// Bytes of S3 object content (stored objects and uploads in progress); `None` when the
    /// disk's free space could not be read and no flag gave it.
    pub object_bytes: Option<u64>,
}

const MB: u64 = 1 << 20;

/// The default `/tmp` disk and object storage ceilings: what the file system of the data
/// directory has free, less the larger of 1 GiB and 10 % of that (the images are sparse: they
/// take what is written).
fn default_disk_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    Some(free.saturating_sub((free / 10).max(1 << 30)))
}

impl Chosen {
    /// The ceilings for plain processes: memory only (a plain process has neither a pids cgroup
    /// nor a `/tmp` of its own to count).
    pub(crate) fn for_plain_processes(mut self) -> Chosen {
        self.environments.tmp_bytes = None;
        self.environments.pids = None;
        self
    }
}

/// Resolves the ceilings for sandboxes: flags first, else from the host.
pub(crate) fn choose(cfg: &CeilingConfig, data_dir: &Path) -> Chosen {
    let host = ignis_sandbox::cgroup::host_ceilings();
    let memory = cfg.max_memory_mb.map(|m| m * MB).or(host.memory_bytes);
    let pids = cfg.max_pids.or(host.pids);
    let disk = default_disk_bytes(data_dir);
    let tmp = cfg.max_tmp_disk_mb.map(|m| m * MB).or(disk);
    let total = cfg.max_async_queue_bytes.unwrap_or(ASYNC_QUEUE_BYTES);
    Chosen {
        environments: ignis_invoker::Ceilings {
            memory_bytes: memory,
            tmp_bytes: tmp,
            pids,
        },
        queue: ignis_engine::QueueBounds {
            per_function: cfg
                .max_async_queue_bytes_per_function
                .unwrap_or(ASYNC_QUEUE_BYTES_PER_FUNCTION)
                .min(total),
            total,
        },
        object_bytes: cfg.max_object_storage_mb.map(|m| m * MB).or(disk),
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
    } else if bytes >= MB {
        format!("{} MiB", bytes / MB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The start-up line: `ceilings: memory …, pids …, /tmp …; async queue … per function, … in all`.
pub(crate) fn describe(c: &Chosen) -> String {
    let e = &c.environments;
    let or_unbounded =
        |v: Option<String>, why: &str| v.unwrap_or_else(|| format!("unbounded ({why})"));
    format!(
        "ceilings: memory {}, pids {}, /tmp disk {}; async queue {} per function, {} in all; object storage {}",
        or_unbounded(e.memory_bytes.map(size), "unknown"),
        or_unbounded(e.pids.map(|p| p.to_string()), "plain processes"),
        or_unbounded(e.tmp_bytes.map(size), "plain processes"),
        size(c.queue.per_function),
        size(c.queue.total),
        or_unbounded(c.object_bytes.map(size), "free disk unknown"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_and_plain_processes_bound_memory_only() {
        let cfg = CeilingConfig {
            max_memory_mb: Some(384),
            max_pids: Some(3072),
            max_tmp_disk_mb: Some(2048),
            max_async_queue_bytes: Some(4096),
            max_async_queue_bytes_per_function: Some(1 << 40),
            max_object_storage_mb: Some(1),
        };
        let dir = tempfile::tempdir().unwrap();
        let sandbox = choose(&cfg, dir.path());
        assert_eq!(sandbox.environments.memory_bytes, Some(384 * MB));
        assert_eq!(sandbox.environments.pids, Some(3072));
        assert_eq!(sandbox.environments.tmp_bytes, Some(2048 * MB));
        // A function's bound is never above the node's.
        assert_eq!(sandbox.queue.per_function, 4096);
        let plain = sandbox.for_plain_processes();
        assert_eq!(plain.environments.memory_bytes, Some(384 * MB));
        assert_eq!(plain.environments.pids, None);
        assert_eq!(plain.environments.tmp_bytes, None);
        assert_eq!(
            describe(&plain),
            "ceilings: memory 384 MiB, pids unbounded (plain processes), /tmp disk unbounded (plain processes); async queue 4096 bytes per function, 4096 bytes in all; object storage 1 MiB"
        );
    }

    #[test]
    fn defaults_come_from_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let c = choose(&CeilingConfig::default(), dir.path());
        let total_kib: u64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        let memory = c.environments.memory_bytes.unwrap();
        assert!(
            memory < total_kib * 1024 && memory >= total_kib * 1024 / 2,
            "{memory}"
        );
        assert!(c.environments.pids.unwrap() >= 1024);
        assert!(c.environments.tmp_bytes.is_some());
        assert_eq!(c.queue.per_function, ASYNC_QUEUE_BYTES_PER_FUNCTION);
        assert_eq!(c.queue.total, ASYNC_QUEUE_BYTES);
    }
}
