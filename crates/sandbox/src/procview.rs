//! What an environment's `/proc` hides and what it shows of its own.
//!
//! The environment has a fresh proc of its PID namespace, but some of its files describe the
//! whole host. As Docker and runc do, those are masked: files by an empty read-only file, and
//! directories by an empty read-only directory. `/proc/meminfo` is replaced by a view of the
//! environment's own memory (as Lambda's microVM shows its own), generated when the environment
//! starts; `/proc/swaps` and `/proc/partitions` by views of none (the host's name its swap files,
//! and its disks and every environment's `/tmp` loop device), and the boot id by one of the
//! environment's own.

use std::path::{Path, PathBuf};

/// Files masked by an empty read-only file (Docker's masked files, and the kernel's symbols and
/// modules, which describe the host's kernel build).
pub const MASKED_FILES: &[&str] = &[
    "kcore",
    "keys",
    "key-users",
    "latency_stats",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "kallsyms",
    "modules",
    "sysrq-trigger",
    "kpagecount",
    "kpageflags",
    "kpagecgroup",
    "vmallocinfo",
    // Other environments' /tmp devices and their activity, the host's file locks and its
    // kernel command line.
    "diskstats",
    "locks",
    "cmdline",
    // The host's memory (its size, free pages) and interrupt counters, which `meminfo`'s view
    // would otherwise contradict.
    "zoneinfo",
    "buddyinfo",
    "pagetypeinfo",
    "vmstat",
    "interrupts",
    "softirqs",
];

/// Directories masked by an empty read-only directory (Docker's masked directories).
pub const MASKED_DIRS: &[&str] = &["acpi", "asound", "scsi", "driver"];

/// The paths under `proc` to mask.
pub fn masked(proc: &Path) -> Vec<PathBuf> {
    MASKED_FILES
        .iter()
        .chain(MASKED_DIRS)
        .map(|n| proc.join(n))
        .collect()
}

/// The files of `/proc` replaced by views (`memory_mb` 0: the kernel's `meminfo`), as
/// (name, contents).
pub fn views(memory_mb: u32) -> Vec<(&'static str, String)> {
    let mut v = vec![
        (
            "swaps",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n".to_string(),
        ),
        ("partitions", "major minor  #blocks  name\n\n".to_string()),
        // The host's boot id would tell two functions that they share a host: each environment
        // is a boot of its own.
        ("sys/kernel/random/boot_id", format!("{}\n", random_uuid())),
    ];
    if memory_mb > 0 {
        v.push(("meminfo", meminfo(memory_mb)));
    }
    v
}

/// A random (version 4) UUID, as the kernel writes them.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    let _ = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The environment's `/proc/meminfo`: `memory_mb` of memory, all of it free when the
/// environment starts, no swap (the lines and layout of the kernel's, the host's own figures
/// nowhere).
pub fn meminfo(memory_mb: u32) -> String {
    let total = u64::from(memory_mb) * 1024;
    let lines: &[(&str, u64)] = &[
        ("MemTotal", total),
        ("MemFree", total),
        ("MemAvailable", total),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", 0),
        ("Inactive", 0),
        ("Active(anon)", 0),
        ("Inactive(anon)", 0),
        ("Active(file)", 0),
        ("Inactive(file)", 0),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", 0),
        ("Mapped", 0),
        ("Shmem", 0),
        ("KReclaimable", 0),
        ("Slab", 0),
        ("SReclaimable", 0),
        ("SUnreclaim", 0),
        ("KernelStack", 0),
        ("PageTables", 0),
        ("CommitLimit", total),
        ("Committed_AS", 0),
        ("VmallocTotal", 0),
        ("VmallocUsed", 0),
        ("VmallocChunk", 0),
        ("AnonHugePages", 0),
    ];
    let mut out = String::new();
    for (k, v) in lines {
        out.push_str(&format!("{:<16}{v:>8} kB\n", format!("{k}:")));
    }
    for (k, v) in [
        ("HugePages_Total", 0),
        ("HugePages_Free", 0),
        ("HugePages_Rsvd", 0),
        ("HugePages_Surp", 0),
    ] {
        out.push_str(&format!("{:<16}{v:>8}\n", format!("{k}:")));
    }
    out.push_str(&format!("{:<16}{:>8} kB\n", "Hugepagesize:", 2048));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str, key: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text}"))
    }

    #[test]
    fn meminfo_shows_the_functions_memory() {
        let m = meminfo(256);
        assert_eq!(field(&m, "MemTotal"), 256 * 1024);
        assert!(field(&m, "MemAvailable") <= field(&m, "MemTotal"));
        assert!(field(&m, "MemFree") <= field(&m, "MemAvailable"));
        assert_eq!(field(&m, "SwapTotal"), 0);
        // The kernel's layout: "MemTotal:         262144 kB".
        assert!(m.starts_with("MemTotal:         262144 kB\n"), "{m}");
        assert_eq!(field(&meminfo(10_240), "MemTotal"), 10_240 * 1024);
    }

    fn regex_like_uuid(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
            && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
            && parts[2].starts_with('4')
    }

    #[test]
    fn host_wide_files_are_masked() {
        let m = masked(Path::new("/proc"));
        for p in [
            "/proc/kcore",
            "/proc/kallsyms",
            "/proc/sched_debug",
            "/proc/acpi",
        ] {
            assert!(m.contains(&PathBuf::from(p)), "{p}");
        }
        assert!(!m.contains(&PathBuf::from("/proc/meminfo")));
        let names = |mb| views(mb).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        let boot = "sys/kernel/random/boot_id";
        assert_eq!(names(128), ["swaps", "partitions", boot, "meminfo"]);
        assert_eq!(names(0), ["swaps", "partitions", boot]);
        let id = |v: Vec<(&str, String)>| v.into_iter().find(|(n, _)| *n == boot).unwrap().1;
        let (a, b) = (id(views(0)), id(views(0)));
        assert_ne!(a, b);
        assert!(regex_like_uuid(a.trim_end()) && a.ends_with('\n'), "{a:?}");
        // No view is also masked.
        assert!(
            names(128)
                .iter()
                .all(|n| !m.contains(&Path::new("/proc").join(n)))
        );
    }
}
