//! The seccomp filter every function runs under.
//!
//! A function is arbitrary code on a language runtime, so the filter allows by default and
//! refuses, with `EPERM`, what no function needs and what has a history of kernel escapes:
//! loading kernel modules, kexec, reboot, ptrace and cross-process memory access, mounting and
//! namespaces (including `clone` with `CLONE_NEW*` flags), BPF, perf events, the kernel keyring,
//! handle-based opens, setting the clock or the host name, swap, quotas, accounting, the kernel
//! log, userfaultfd. `clone3` (whose flags sit behind a pointer a filter cannot read) and
//! io_uring answer `ENOSYS`, so that C libraries fall back to `clone` and runtimes to ordinary
//! I/O. The lists are data below; a test checks that no syscall is listed twice.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// Refused with `EPERM`.
pub const DENIED: &[(&str, libc::c_long)] = &[
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("reboot", libc::SYS_reboot),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("kcmp", libc::SYS_kcmp),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("sethostname", libc::SYS_sethostname),
    ("setdomainname", libc::SYS_setdomainname),
    ("acct", libc::SYS_acct),
    ("quotactl", libc::SYS_quotactl),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("syslog", libc::SYS_syslog),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("fanotify_init", libc::SYS_fanotify_init),
    ("vhangup", libc::SYS_vhangup),
    ("nfsservctl", libc::SYS_nfsservctl),
    #[cfg(target_arch = "x86_64")]
    ("iopl", libc::SYS_iopl),
    #[cfg(target_arch = "x86_64")]
    ("ioperm", libc::SYS_ioperm),
    #[cfg(target_arch = "x86_64")]
    ("_sysctl", libc::SYS__sysctl),
    #[cfg(target_arch = "x86_64")]
    ("uselib", libc::SYS_uselib),
];

/// Answered with `ENOSYS` (callers fall back to something the filter can see).
pub const UNAVAILABLE: &[(&str, libc::c_long)] = &[
    ("clone3", libc::SYS_clone3),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
];

/// `clone` flags that create namespaces: a `clone` with any of them is refused.
pub const CLONE_NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWTIME as u64,
];

/// Why the filter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("seccomp filter: {0}")]
pub struct FilterError(String);

fn arch() -> Result<TargetArch, FilterError> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| FilterError(format!("{e:?}")))
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<BpfProgram, FilterError> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch()?,
    )
    .map_err(|e| FilterError(e.to_string()))?;
    BpfProgram::try_from(filter).map_err(|e| FilterError(e.to_string()))
}

/// The filters, in the order they are installed: the `EPERM` one, then the `ENOSYS` one (their
/// syscalls are disjoint, so the order does not matter).
pub fn function_filters() -> Result<Vec<BpfProgram>, FilterError> {
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&(_, nr)| (nr, vec![])).collect();
    let clone_rules = CLONE_NAMESPACE_FLAGS
        .iter()
        .map(|&flag| {
            let cond = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )
            .map_err(|e| FilterError(e.to_string()))?;
            SeccompRule::new(vec![cond]).map_err(|e| FilterError(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    denied.insert(libc::SYS_clone, clone_rules);
    let unavailable = UNAVAILABLE.iter().map(|&(_, nr)| (nr, vec![])).collect();
    Ok(vec![
        compile(denied, libc::EPERM)?,
        compile(unavailable, libc::ENOSYS)?,
    ])
}

/// Installs the filters on the calling thread (`no_new_privs` must be set).
pub fn apply(filters: &[BpfProgram]) -> Result<(), FilterError> {
    for f in filters {
        seccompiler::apply_filter(f).map_err(|e| FilterError(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_filters_build_for_this_host() {
        let filters = function_filters().unwrap();
        assert_eq!(filters.len(), 2);
        assert!(filters.iter().all(|f| !f.is_empty()));
    }

    #[test]
    fn no_syscall_is_listed_twice() {
        let mut names = HashSet::new();
        let mut numbers = HashSet::new();
        for (name, nr) in DENIED.iter().chain(UNAVAILABLE) {
            assert!(names.insert(*name), "{name} is listed twice");
            assert!(
                numbers.insert(*nr),
                "{name} ({nr}) repeats another entry's number"
            );
        }
        // clone is filtered by its flags, not listed.
        assert!(!names.contains("clone"));
        let flags: HashSet<_> = CLONE_NAMESPACE_FLAGS.iter().collect();
        assert_eq!(flags.len(), CLONE_NAMESPACE_FLAGS.len());
    }
}
