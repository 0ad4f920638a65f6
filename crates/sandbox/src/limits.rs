//! The limits of one execution environment, computed from its function's configuration the way
//! Lambda computes them.

/// CFS bandwidth period, µs (the kernel's default).
pub const CPU_PERIOD_US: u64 = 100_000;
/// Memory that buys one full vCPU on Lambda.
pub const MB_PER_VCPU: u64 = 1_769;
/// The smallest quota the kernel accepts, µs.
pub const MIN_CPU_QUOTA_US: u64 = 1_000;
/// Most processes and threads in one environment.
pub const PIDS_MAX: u64 = 1_024;
/// Most open files per process (Lambda's limit).
pub const NOFILE: u64 = 1_024;

/// CPU quota per [`CPU_PERIOD_US`] for a function of `memory_mb`: one full core at 1,769 MB, in
/// proportion below and above (128 MB ≈ 7.2 % of a core, 10,240 MB ≈ 5.8 cores).
pub fn cpu_quota_us(memory_mb: u32) -> u64 {
    (CPU_PERIOD_US * u64::from(memory_mb) / MB_PER_VCPU).max(MIN_CPU_QUOTA_US)
}

/// What the cgroup of one environment enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Hard memory limit, bytes (no swap on top).
    pub memory_bytes: u64,
    /// CPU quota per period while invocations run, µs.
    pub cpu_quota_us: u64,
    /// CPU quota during init, µs: at least one full core (see ARCHITECTURE.md, "init is not
    /// throttled").
    pub init_cpu_quota_us: u64,
    pub cpu_period_us: u64,
    pub pids_max: u64,
}

impl Limits {
    /// The limits of a function with `memory_mb` of `MemorySize`.
    pub fn for_memory(memory_mb: u32) -> Limits {
        let quota = cpu_quota_us(memory_mb);
        Limits {
            memory_bytes: u64::from(memory_mb) * 1024 * 1024,
            cpu_quota_us: quota,
            init_cpu_quota_us: quota.max(CPU_PERIOD_US),
            cpu_period_us: CPU_PERIOD_US,
            pids_max: PIDS_MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_proportional_to_memory() {
        assert_eq!(cpu_quota_us(1_769), 100_000);
        assert_eq!(cpu_quota_us(128), 7_235);
        assert_eq!(cpu_quota_us(3_538), 200_000);
        assert_eq!(cpu_quota_us(10_240), 578_858);
        // Never below what the kernel accepts.
        assert_eq!(cpu_quota_us(1), MIN_CPU_QUOTA_US);
        let l = Limits::for_memory(128);
        assert_eq!(l.memory_bytes, 128 << 20);
        assert_eq!(l.init_cpu_quota_us, CPU_PERIOD_US);
        assert_eq!(Limits::for_memory(3_538).init_cpu_quota_us, 200_000);
        assert_eq!(l.pids_max, 1_024);
    }
}
