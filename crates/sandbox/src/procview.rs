//! What an environment's `/proc` hides and what it shows of its own.
//!
//! The environment has a fresh proc of its PID namespace, but some of its files describe the
//! whole host. As Docker and runc do, those are masked: files by an empty read-only file, and
//! directories by an empty read-only directory. Others are replaced by views of the
//! environment's own, as Lambda's microVM shows its own: `/proc/meminfo` (the function's memory,
//! all of it free), `/proc/stat` (the CPUs `/proc/cpuinfo` lists, every counter zero, `btime`
//! the environment's start, one process) and `/proc/loadavg` (no load, one process);
//! `/proc/swaps` and `/proc/partitions` by views of none (the host's name its swap files, and
//! its disks and every environment's `/tmp` loop device), and the boot id by one of the
//! environment's own.
//!
//! These views are generated when the environment starts and do not change afterwards: the
//! kernel's files have no per-environment figures to show (its counters are the host's, every
//! tenant's activity in them), and a live view would need a FUSE daemon serving every
//! environment's `/proc` (as lxcfs does), shared by all tenants and on every read's path.
//!
//! The clocks are the environment's own and live: the runtime runs in a time namespace of the
//! environment's ([`timens_offsets`]), whose `CLOCK_BOOTTIME` and `CLOCK_MONOTONIC` start at 0
//! when the environment starts, so `/proc/uptime`'s first figure is the environment's uptime, as
//! in a fresh microVM. What no namespace changes: `/proc/uptime`'s second figure (idle time) is
//! the kernel's sum over the host's CPUs; `/proc/self/timens_offsets` (readable by its process)
//! holds minus the host's clocks at the environment's start, so the host's boot time can still be
//! worked out; init, started before the namespace, shows a start time past the environment's
//! boot; and `sysinfo(2)` (glibc's `getloadavg`) answers the host's load, process count and memory.

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
/// (name, contents), for an environment starting now on this host's CPUs.
pub fn views(memory_mb: u32) -> Vec<(&'static str, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| cpu_ids(&c))
        .unwrap_or_default();
    let cpus = if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        (0..u32::try_from(n).unwrap_or(1)).collect()
    } else {
        cpus
    };
    views_of(memory_mb, &cpus, now)
}

/// [`views`] for an environment starting at `btime` (epoch seconds) on `cpus`.
pub fn views_of(memory_mb: u32, cpus: &[u32], btime: u64) -> Vec<(&'static str, String)> {
    let mut v = vec![
        (
            "swaps",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n".to_string(),
        ),
        ("partitions", "major minor  #blocks  name\n\n".to_string()),
        // The host's boot id would tell two functions that they share a host: each environment
        // is a boot of its own.
        ("sys/kernel/random/boot_id", format!("{}\n", random_uuid())),
        ("stat", stat(cpus, btime)),
        // Load averages, running/all tasks, the last pid: the environment's init.
        ("loadavg", "0.00 0.00 0.00 1/1 1\n".to_string()),
    ];
    if memory_mb > 0 {
        v.push(("meminfo", meminfo(memory_mb)));
    }
    v
}

/// The CPU numbers of `/proc/cpuinfo`'s `processor` lines.
pub fn cpu_ids(cpuinfo: &str) -> Vec<u32> {
    cpuinfo
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "processor").then(|| v.trim().parse().ok())?
        })
        .collect()
}

/// The environment's `/proc/stat` when it starts: one `cpuN` line for each of `cpus` and the
/// total, every counter zero, `btime` its start (epoch seconds), one process (its init) — the
/// kernel's lines and layout (glibc's `get_nprocs` fallback and libuv's `uv_cpu_info` count the
/// `cpuN` lines), the host's figures nowhere.
pub fn stat(cpus: &[u32], btime: u64) -> String {
    // user nice system idle iowait irq softirq steal guest guest_nice
    let zeros = " 0".repeat(10);
    let mut out = format!("cpu {zeros}\n");
    for n in cpus {
        out.push_str(&format!("cpu{n}{zeros}\n"));
    }
    out.push_str(&format!(
        "intr 0\nctxt 0\nbtime {btime}\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n\
         softirq 0{}\n",
        // The total, then each of the kernel's ten softirqs.
        " 0".repeat(10)
    ));
    out
}

/// What to write to `/proc/self/timens_offsets` (after `unshare(CLONE_NEWTIME)`, before any
/// process enters the namespace) so that its `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` read 0 when
/// the host's read `monotonic` and `boottime`: minus each (the kernel takes whole seconds, which
/// may be negative, and nanoseconds in `0..1e9`; clock ids 1 and 7).
pub fn timens_offsets(monotonic: (i64, i64), boottime: (i64, i64)) -> String {
    let minus = |(s, ns): (i64, i64)| {
        if ns == 0 {
            (-s, 0)
        } else {
            (-s - 1, 1_000_000_000 - ns)
        }
    };
    let (ms, mns) = minus(monotonic);
    let (bs, bns) = minus(boottime);
    format!("1 {ms} {mns}\n7 {bs} {bns}\n")
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
        let fixed = ["swaps", "partitions", boot, "stat", "loadavg"];
        assert_eq!(names(128), [&fixed[..], &["meminfo"]].concat());
        assert_eq!(names(0), fixed);
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

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: X\n\n\
                           processor\t: 1\nmodel name\t: X\n\nprocessor\t: 3\n";

    #[test]
    fn stat_shows_the_cpus_of_cpuinfo_and_nothing_of_the_host() {
        assert_eq!(cpu_ids(CPUINFO), [0, 1, 3]);
        assert_eq!(cpu_ids("model name\t: processor 9\n"), Vec::<u32>::new());
        let s = stat(&[0, 1], 1_700_000_000);
        let zeros = " 0 0 0 0 0 0 0 0 0 0";
        let want = format!(
            "cpu {zeros}\ncpu0{zeros}\ncpu1{zeros}\nintr 0\nctxt 0\nbtime 1700000000\n\
             processes 1\nprocs_running 1\nprocs_blocked 0\nsoftirq 0{zeros}\n"
        );
        assert_eq!(s, want);
        // As the kernel writes it: "cpu  0 0 …", ten counters a line.
        assert!(s.starts_with("cpu  0 "), "{s}");
        for l in s.lines().filter(|l| l.starts_with("cpu")) {
            assert_eq!(l.split_whitespace().count(), 11, "{l}");
        }
        // What glibc's get_nprocs counts.
        let counted = s
            .lines()
            .filter(|l| {
                l.strip_prefix("cpu")
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            })
            .count();
        assert_eq!(counted, 2);
        let v = views_of(128, &[0, 1, 3], 42);
        let get = |n: &str| v.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert!(get("stat").contains("\ncpu3 0 ") && get("stat").contains("\nbtime 42\n"));
        assert_eq!(get("loadavg"), "0.00 0.00 0.00 1/1 1\n");
        // This host's views: its CPUs, started now.
        let host = views(0);
        let stat = &host.iter().find(|(k, _)| *k == "stat").unwrap().1;
        let n = std::fs::read_to_string("/proc/cpuinfo").map_or(0, |c| cpu_ids(&c).len());
        assert_eq!(
            stat.lines().filter(|l| l.starts_with("cpu")).count(),
            n.max(1) + 1
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let btime: u64 = stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(now - btime < 5, "{btime} {now}");
    }

    #[test]
    fn timens_offsets_bring_the_clocks_to_zero() {
        assert_eq!(
            timens_offsets((3668, 250_000_000), (3700, 0)),
            "1 -3669 750000000\n7 -3700 0\n"
        );
        // Offset plus clock is exactly zero, nanoseconds within the kernel's range.
        for t in [(0, 1), (5, 999_999_999), (12, 0)] {
            let text = timens_offsets(t, t);
            for line in text.lines() {
                let f: Vec<i64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
                assert!((0..1_000_000_000).contains(&f[2]), "{line}");
                assert_eq!((f[1] + t.0) * 1_000_000_000 + f[2] + t.1, 0, "{line}");
            }
        }
    }
}
