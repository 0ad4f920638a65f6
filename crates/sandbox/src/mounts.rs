//! The environment's root file system: a plan (pure data, computed from the spec and what the
//! host has) and its execution inside the environment's own mount namespace.
//!
//! The root is a small read-only tmpfs holding:
//!
//! | path | what |
//! |---|---|
//! | `/usr`, and `/bin` `/sbin` `/lib*` (as the host has them: symlinks into `/usr` or trees) | the host's system directories, read-only |
//! | interpreter directories outside `/usr` (e.g. pyenv's `…/versions/3.11.7/{bin,lib}`) | read-only, at their host paths |
//! | `/etc` | a handful of the host's files (loader cache, TLS roots, name service, time zones), copied or read-only, plus generated `passwd`, `group`, `hosts`, `hostname`, `resolv.conf` — never `shadow` |
//! | `/var/task`, `/var/runtime`, `/opt` | the code, Ignis's bootstraps, layers: read-only |
//! | `/tmp` | the environment's own ext4 image of `EphemeralStorage` (or a tmpfs) |
//! | `/proc` | a fresh proc of the environment's PID namespace, host-wide files masked, its own `meminfo`, `stat`, `loadavg` (generated at its start) ([`crate::procview`]) |
//! | `/dev` | `null`, `zero`, `full`, `random`, `urandom` and the `fd`/`std*` links only |
//!
//! Nothing in the environment's `/proc/self/mountinfo` names a host path, a code hash or a host
//! device. A bind mount shows the path of its source inside the source's file system (the data
//! directory and the code's hash, for `/var/task`), so host directories are shown through
//! read-only overlays instead: each is reached through a numbered symbolic link in a scratch area
//! inside the root, and the overlay is given that name relative to it (`lowerdir=0:v/empty`: an
//! overlay without an upper layer needs two lower ones, the second is empty). The host's `/etc`
//! files are copied, device nodes made anew, and the masks and the views (`meminfo`, `stat`…)
//! come from a small tmpfs of the environment's own.

use crate::procview;
use crate::spec::{GUEST_DNS, GUEST_USER, RootSpec, TmpSpec};
use std::io;
use std::path::{Component, Path, PathBuf};

/// What a host path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEntry {
    Dir,
    File,
    Symlink(PathBuf),
}

/// Reads what `path` is on the host (without following a final symlink).
pub fn inspect_host(path: &Path) -> Option<HostEntry> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_symlink() {
        std::fs::read_link(path).ok().map(HostEntry::Symlink)
    } else if meta.is_dir() {
        Some(HostEntry::Dir)
    } else {
        Some(HostEntry::File)
    }
}

/// One step of building the root. Guest paths are absolute paths inside the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Dir {
        path: PathBuf,
        mode: u32,
    },
    Symlink {
        target: PathBuf,
        path: PathBuf,
    },
    /// Show a host directory read-only (nosuid, nodev), through an overlay.
    Tree {
        src: PathBuf,
        path: PathBuf,
    },
    /// Copy a (small) host file.
    Copy {
        src: PathBuf,
        path: PathBuf,
    },
    /// Make a device node like the host's `src`.
    Device {
        src: PathBuf,
        path: PathBuf,
    },
    File {
        path: PathBuf,
        contents: String,
    },
    /// A tmpfs with these options.
    Tmpfs {
        path: PathBuf,
        options: String,
    },
    /// The environment's `/tmp`.
    Scratch {
        path: PathBuf,
    },
    Proc {
        path: PathBuf,
    },
    /// Mask a host-wide file or directory of `/proc` (if it has one) with an empty read-only one.
    Mask {
        path: PathBuf,
    },
    /// Show `contents` read-only at `path` (a file of `/proc`).
    View {
        path: PathBuf,
        contents: String,
    },
    /// Make an already mounted tmpfs read-only (after its content is in place).
    RemountRo {
        path: PathBuf,
    },
}

/// Top-level directories a distribution may have (merged-`/usr` ones are symlinks).
const SYSTEM_TOP: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Host files and directories of `/etc` the environment sees (if the host has them).
pub const ETC_ALLOWED: &[&str] = &[
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "protocols",
    "services",
    "rpc",
    "mime.types",
    "localtime",
    "timezone",
    "os-release",
    "debian_version",
    "alternatives",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "pki",
    "crypto-policies",
];

/// Device nodes the environment gets.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom"];

/// Directories never exposed through [`RootSpec::expose`].
const NEVER_EXPOSED: &[&str] = &["/", "/proc", "/sys", "/dev", "/etc", "/tmp", "/var", "/run"];

/// Whether `p` may be shown inside: absolute, normal, at least two levels deep, not a system
/// area, and not already visible through `/usr`.
pub fn exposable(p: &Path) -> bool {
    let normal = p.is_absolute()
        && p.components()
            .skip(1)
            .all(|c| matches!(c, Component::Normal(_)));
    let depth = p.components().count() - 1;
    normal
        && depth >= 2
        && !p.starts_with("/usr")
        && !NEVER_EXPOSED.iter().any(|n| *n != "/" && p.starts_with(n))
}

fn dir(path: &str, mode: u32) -> Step {
    Step::Dir {
        path: path.into(),
        mode,
    }
}

/// The generated `/etc` files.
fn generated_etc(hostname: &str, uid: u32, gid: u32, egress: bool) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "passwd".to_string(),
            format!(
                "root:x:0:0:root:/root:/sbin/nologin\n{GUEST_USER}:x:{uid}:{gid}::/tmp:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
            ),
        ),
        (
            "group".to_string(),
            format!("root:x:0:\n{GUEST_USER}:x:{gid}:\nnogroup:x:65534:\n"),
        ),
        (
            "hosts".to_string(),
            format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n"),
        ),
        ("hostname".to_string(), format!("{hostname}\n")),
    ];
    if egress {
        files.push(("resolv.conf".into(), format!("nameserver {GUEST_DNS}\n")));
    }
    files
}

/// The steps that build the root described by `spec`, given what the host has.
pub fn plan(
    spec: &RootSpec,
    hostname: &str,
    uid: u32,
    gid: u32,
    host: &dyn Fn(&Path) -> Option<HostEntry>,
) -> Vec<Step> {
    let mut steps = vec![dir("/usr", 0o755)];
    steps.push(Step::Tree {
        src: "/usr".into(),
        path: "/usr".into(),
    });
    for top in SYSTEM_TOP {
        let p = PathBuf::from("/").join(top);
        match host(&p) {
            Some(HostEntry::Symlink(target)) => steps.push(Step::Symlink { target, path: p }),
            Some(HostEntry::Dir) => {
                steps.push(Step::Dir {
                    path: p.clone(),
                    mode: 0o755,
                });
                steps.push(Step::Tree {
                    src: p.clone(),
                    path: p,
                });
            }
            _ => {}
        }
    }

    // /etc: selected host entries, then the generated files.
    steps.push(dir("/etc", 0o755));
    let generated = generated_etc(hostname, uid, gid, spec.egress);
    for name in ETC_ALLOWED {
        if generated.iter().any(|(g, _)| g == name) {
            continue;
        }
        let p = Path::new("/etc").join(name);
        match host(&p) {
            Some(HostEntry::Symlink(target)) => steps.push(Step::Symlink { target, path: p }),
            Some(HostEntry::Dir) => {
                steps.push(Step::Dir {
                    path: p.clone(),
                    mode: 0o755,
                });
                steps.push(Step::Tree {
                    src: p.clone(),
                    path: p,
                });
            }
            Some(HostEntry::File) => steps.push(Step::Copy {
                src: p.clone(),
                path: p,
            }),
            None => {}
        }
    }
    for (name, contents) in generated {
        steps.push(Step::File {
            path: Path::new("/etc").join(name),
            contents,
        });
    }

    // The function's own directories.
    steps.push(dir("/var", 0o755));
    for (path, src) in [("/var/task", &spec.task), ("/var/runtime", &spec.runtime)] {
        steps.push(dir(path, 0o755));
        steps.push(Step::Tree {
            src: src.clone(),
            path: path.into(),
        });
    }
    steps.push(dir("/opt", 0o755));
    if let Some(opt) = &spec.opt {
        steps.push(Step::Tree {
            src: opt.clone(),
            path: "/opt".into(),
        });
    }

    // Interpreter directories outside /usr, at their own paths.
    for p in spec.expose.iter().filter(|p| exposable(p)) {
        if !matches!(host(p), Some(HostEntry::Dir)) {
            continue;
        }
        let mut at = PathBuf::from("/");
        for c in p.components().skip(1) {
            at.push(c);
            let step = Step::Dir {
                path: at.clone(),
                mode: 0o755,
            };
            if !steps.contains(&step) {
                steps.push(step);
            }
        }
        steps.push(Step::Tree {
            src: p.clone(),
            path: p.clone(),
        });
    }

    steps.push(dir("/tmp", 0o1777));
    steps.push(Step::Scratch {
        path: "/tmp".into(),
    });
    steps.push(dir("/proc", 0o555));
    steps.push(Step::Proc {
        path: "/proc".into(),
    });
    for path in procview::masked(Path::new("/proc")) {
        steps.push(Step::Mask { path });
    }
    for (name, contents) in procview::views(spec.memory_mb) {
        steps.push(Step::View {
            path: Path::new("/proc").join(name),
            contents,
        });
    }

    steps.push(dir("/dev", 0o755));
    steps.push(Step::Tmpfs {
        path: "/dev".into(),
        options: "mode=0755,size=64k,nr_inodes=64".into(),
    });
    for d in DEVICES {
        let p = Path::new("/dev").join(d);
        steps.push(Step::Device {
            src: p.clone(),
            path: p,
        });
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        steps.push(Step::Symlink {
            target: target.into(),
            path: Path::new("/dev").join(name),
        });
    }
    steps.push(Step::RemountRo {
        path: "/dev".into(),
    });
    steps
}

/// The scratch area inside the root while it is built (gone before the root is entered).
const WORK: &str = ".ignis";

/// Executes the plan under `staging` and makes it the root: the caller must be alone in a fresh
/// mount namespace (and, for `/proc`, the init of a fresh PID namespace). `scratch` mounts
/// `/tmp` at the path it is given.
pub fn build_root(
    staging: &Path,
    steps: &[Step],
    scratch: &mut dyn FnMut(&Path) -> io::Result<()>,
) -> io::Result<()> {
    use rustix::fs::{FileType, Mode};
    use rustix::mount::{
        MountFlags, MountPropagationFlags, UnmountFlags, mount, mount_bind, mount_change,
        mount_remount, unmount,
    };
    let ctx = |what: &str, p: &Path| {
        let what = what.to_string();
        let p = p.to_path_buf();
        move |e: rustix::io::Errno| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("{what} {}: {}", p.display(), io::Error::from(e)),
            )
        }
    };
    let io_ctx = |what: &str, p: &Path| {
        let what = what.to_string();
        let p = p.to_path_buf();
        move |e: io::Error| io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
    };
    // Nothing done here may propagate back to the host.
    mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(ctx("make private", Path::new("/")))?;
    mount(
        "ignis-root",
        staging,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        c"mode=0755,size=4m,nr_inodes=4096",
    )
    .map_err(ctx("mount root tmpfs", staging))?;
    let at = |p: &Path| staging.join(p.strip_prefix("/").unwrap_or(p));
    let ro = MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV;
    let bind_ro = |src: &Path, p: &Path, flags: MountFlags| -> io::Result<()> {
        mount_bind(src, p).map_err(ctx("bind", src))?;
        mount_remount(p, flags, "").map_err(ctx("read-only", p))
    };
    // The scratch area, and the environment's own small file system in it: the overlays' empty
    // layer, the masks, the views.
    let work = staging.join(WORK);
    std::fs::create_dir(&work).map_err(io_ctx("mkdir", &work))?;
    let view = work.join("v");
    std::fs::create_dir(&view).map_err(io_ctx("mkdir", &view))?;
    mount(
        "ignis-view",
        &view,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        c"mode=0755,size=256k,nr_inodes=64",
    )
    .map_err(ctx("mount view tmpfs", &view))?;
    let empty_dir = view.join("empty");
    std::fs::create_dir(&empty_dir).map_err(io_ctx("mkdir", &empty_dir))?;
    let masked_file = view.join("masked");
    std::fs::write(&masked_file, "").map_err(io_ctx("write", &masked_file))?;
    rustix::fs::chmod(&masked_file, Mode::from_raw_mode(0o444))
        .map_err(ctx("chmod", &masked_file))?;
    let mut layers = 0usize;
    for step in steps {
        match step {
            Step::Dir { path, mode } => {
                let p = at(path);
                match std::fs::create_dir(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_ctx("mkdir", &p)(e)),
                }
                rustix::fs::chmod(&p, Mode::from_raw_mode(*mode)).map_err(ctx("chmod", &p))?;
            }
            Step::Symlink { target, path } => {
                std::os::unix::fs::symlink(target, at(path)).map_err(io_ctx("symlink", path))?;
            }
            Step::File { path, contents } => {
                std::fs::write(at(path), contents).map_err(io_ctx("write", path))?;
            }
            Step::Copy { src, path } => {
                std::fs::copy(src, at(path)).map_err(io_ctx("copy", src))?;
            }
            Step::Tree { src, path } => {
                let p = at(path);
                let name = layers.to_string();
                layers += 1;
                // A symbolic link, not a bind: unmounting one would cost an RCU grace period.
                let link = work.join(&name);
                std::os::unix::fs::symlink(src, &link).map_err(io_ctx("symlink", &link))?;
                // Relative to the scratch area: the overlay's options show only these names.
                std::env::set_current_dir(&work).map_err(io_ctx("chdir", &work))?;
                let options = c_string(&format!("lowerdir={name}:v/empty"))?;
                let overlay = mount(
                    "ignis",
                    &p,
                    "overlay",
                    MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
                    options.as_c_str(),
                );
                std::fs::remove_file(&link).map_err(io_ctx("unlink", &link))?;
                match overlay {
                    Ok(()) => {}
                    // A kernel without overlayfs: a plain bind (which shows its source's path).
                    Err(rustix::io::Errno::NODEV) => bind_ro(src, &p, ro)?,
                    Err(e) => return Err(ctx("overlay of", src)(e)),
                }
            }
            Step::Device { src, path } => {
                let p = at(path);
                let st = rustix::fs::stat(src).map_err(ctx("stat", src))?;
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &p,
                    FileType::from_raw_mode(st.st_mode),
                    Mode::from_raw_mode(0o666),
                    st.st_rdev,
                )
                .map_err(ctx("mknod", &p))?;
                rustix::fs::chmod(&p, Mode::from_raw_mode(0o666)).map_err(ctx("chmod", &p))?;
            }
            Step::Tmpfs { path, options } => {
                let p = at(path);
                mount(
                    "tmpfs",
                    &p,
                    "tmpfs",
                    MountFlags::NOSUID | MountFlags::NOEXEC,
                    c_string(options)?.as_c_str(),
                )
                .map_err(ctx("mount tmpfs", &p))?;
            }
            Step::Scratch { path } => scratch(&at(path))?,
            Step::Proc { path } => {
                let p = at(path);
                mount(
                    "proc",
                    &p,
                    "proc",
                    MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                    None,
                )
                .map_err(ctx("mount proc", &p))?;
            }
            Step::Mask { path } => {
                let p = at(path);
                // Only what this kernel has.
                let Ok(meta) = std::fs::symlink_metadata(&p) else {
                    continue;
                };
                let src = if meta.is_dir() {
                    &empty_dir
                } else {
                    &masked_file
                };
                bind_ro(src, &p, ro | MountFlags::NOEXEC)?;
            }
            Step::View { path, contents } => {
                let p = at(path);
                if std::fs::symlink_metadata(&p).is_err() {
                    continue;
                }
                let name = path.file_name().unwrap_or(path.as_os_str());
                let file = view.join(name);
                std::fs::write(&file, contents).map_err(io_ctx("write", &file))?;
                rustix::fs::chmod(&file, Mode::from_raw_mode(0o444))
                    .map_err(ctx("chmod", &file))?;
                bind_ro(&file, &p, ro | MountFlags::NOEXEC)?;
            }
            Step::RemountRo { path } => {
                let p = at(path);
                mount_remount(
                    &p,
                    MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NOEXEC,
                    "",
                )
                .map_err(ctx("read-only", &p))?;
            }
        }
    }
    // The scratch area goes; what was mounted from it stays.
    unmount(&view, UnmountFlags::DETACH).map_err(ctx("detach", &view))?;
    std::fs::remove_dir(&view).map_err(io_ctx("rmdir", &view))?;
    std::fs::remove_dir(&work).map_err(io_ctx("rmdir", &work))?;
    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the
    // new root.
    std::env::set_current_dir(staging)?;
    rustix::process::pivot_root(".", ".").map_err(ctx("pivot_root", staging))?;
    unmount(".", UnmountFlags::DETACH).map_err(ctx("detach old root", Path::new("/")))?;
    std::env::set_current_dir("/")?;
    mount_remount(
        "/",
        MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
        "",
    )
    .map_err(ctx("read-only", Path::new("/")))?;
    Ok(())
}

/// Mounts what backs `/tmp` at `target` when no detached one came with the spec.
pub fn mount_scratch(tmp: &TmpSpec, target: &Path) -> io::Result<()> {
    use rustix::mount::{MountFlags, mount};
    match tmp {
        TmpSpec::Detached => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a detached /tmp came without its descriptor",
        )),
        TmpSpec::Tmpfs { size_mb } => mount(
            "tmpfs",
            target,
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            c_string(&format!("mode=1777,size={size_mb}m"))?.as_c_str(),
        )
        .map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("mount /tmp: {}", io::Error::from(e)),
            )
        }),
    }
}

fn c_string(s: &str) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(s)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in mount options"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn spec() -> RootSpec {
        RootSpec {
            staging: "/data/sandbox/root".into(),
            task: "/data/code/trees/abc".into(),
            runtime: "/data/runtime/python".into(),
            opt: None,
            expose: vec![
                "/root/.pyenv/versions/3.11.7/bin".into(),
                "/root/.pyenv/versions/3.11.7/lib".into(),
                "/usr/local/bin".into(),
                "/etc".into(),
                "/root".into(),
                "/proc/self".into(),
            ],
            tmp: TmpSpec::Tmpfs { size_mb: 512 },
            egress: true,
            memory_mb: 256,
        }
    }

    fn merged_usr_host() -> HashMap<PathBuf, HostEntry> {
        let mut h = HashMap::new();
        for (top, target) in [
            ("bin", "usr/bin"),
            ("sbin", "usr/sbin"),
            ("lib", "usr/lib"),
            ("lib64", "usr/lib64"),
        ] {
            h.insert(
                PathBuf::from("/").join(top),
                HostEntry::Symlink(target.into()),
            );
        }
        h.insert("/etc/ld.so.cache".into(), HostEntry::File);
        h.insert("/etc/ssl".into(), HostEntry::Dir);
        h.insert(
            "/etc/os-release".into(),
            HostEntry::Symlink("../usr/lib/os-release".into()),
        );
        h.insert("/etc/shadow".into(), HostEntry::File);
        h.insert("/etc/resolv.conf".into(), HostEntry::File);
        h.insert("/root/.pyenv/versions/3.11.7/bin".into(), HostEntry::Dir);
        h.insert("/root/.pyenv/versions/3.11.7/lib".into(), HostEntry::Dir);
        h.insert("/root".into(), HostEntry::Dir);
        h
    }

    /// The host directories shown (as overlays) and the host files copied.
    fn binds(steps: &[Step]) -> Vec<(String, String)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Tree { src, path } | Step::Copy { src, path } => {
                    Some((src.display().to_string(), path.display().to_string()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_root_holds_only_what_the_function_needs() {
        let host = merged_usr_host();
        let steps = plan(&spec(), "ignis-1", 1_000_001, 1_000_001, &|p| {
            host.get(p).cloned()
        });
        let b = binds(&steps);
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            b,
            pairs(&[
                ("/usr", "/usr"),
                ("/etc/ld.so.cache", "/etc/ld.so.cache"),
                ("/etc/ssl", "/etc/ssl"),
                ("/data/code/trees/abc", "/var/task"),
                ("/data/runtime/python", "/var/runtime"),
                (
                    "/root/.pyenv/versions/3.11.7/bin",
                    "/root/.pyenv/versions/3.11.7/bin"
                ),
                (
                    "/root/.pyenv/versions/3.11.7/lib",
                    "/root/.pyenv/versions/3.11.7/lib"
                ),
            ])
        );
        // Merged-/usr symlinks are recreated, as are /etc symlinks.
        assert!(steps.contains(&Step::Symlink {
            target: "usr/bin".into(),
            path: "/bin".into()
        }));
        assert!(steps.contains(&Step::Symlink {
            target: "../usr/lib/os-release".into(),
            path: "/etc/os-release".into()
        }));
        // Never shadow, never the host's resolv.conf (a generated one), never /root itself.
        assert!(!format!("{steps:?}").contains("shadow"));
        let resolv = steps.iter().find_map(|s| match s {
            Step::File { path, contents } if path == Path::new("/etc/resolv.conf") => {
                Some(contents.clone())
            }
            _ => None,
        });
        assert_eq!(resolv.as_deref(), Some("nameserver 10.0.2.3\n"));
        let passwd = steps.iter().find_map(|s| match s {
            Step::File { path, contents } if path == Path::new("/etc/passwd") => {
                Some(contents.clone())
            }
            _ => None,
        });
        assert!(passwd.unwrap().contains("sbx_user1051:x:1000001:1000001:"));
        // /tmp, /proc and /dev are mounted, /dev is then made read-only.
        let order: Vec<&Step> = steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Step::Scratch { .. } | Step::Proc { .. } | Step::RemountRo { .. }
                )
            })
            .collect();
        assert_eq!(order.len(), 3);
        let devices = steps
            .iter()
            .filter(|s| matches!(s, Step::Device { .. }))
            .count();
        assert_eq!(devices, DEVICES.len());
        // Host-wide /proc files are masked and meminfo is the function's, once proc is mounted.
        let proc_at = steps
            .iter()
            .position(|s| matches!(s, Step::Proc { .. }))
            .unwrap();
        let kcore = steps
            .iter()
            .position(|s| matches!(s, Step::Mask { path } if path == Path::new("/proc/kcore")))
            .unwrap();
        assert!(proc_at < kcore);
        let meminfo = steps.iter().find_map(|s| match s {
            Step::View { path, contents } if path == Path::new("/proc/meminfo") => Some(contents),
            _ => None,
        });
        assert!(
            meminfo
                .unwrap()
                .starts_with("MemTotal:         262144 kB\n")
        );
        // Parent directories of exposed paths exist before their binds.
        let dir_at = |p: &str| {
            steps
                .iter()
                .position(|s| matches!(s, Step::Dir { path, .. } if path == Path::new(p)))
        };
        let bind_at = steps.iter().position(|s| matches!(s, Step::Tree { path, .. } if path == Path::new("/root/.pyenv/versions/3.11.7/bin"))).unwrap();
        assert!(dir_at("/root").unwrap() < bind_at);
        assert!(dir_at("/root/.pyenv/versions/3.11.7/bin").unwrap() < bind_at);
    }

    #[test]
    fn without_egress_there_is_no_resolver() {
        let mut s = spec();
        s.egress = false;
        s.opt = Some("/data/layers/x".into());
        s.memory_mb = 0;
        let steps = plan(&s, "h", 1, 1, &|_| None);
        assert!(!format!("{steps:?}").contains("resolv.conf"));
        // Without a memory size, the kernel's meminfo.
        assert!(
            !steps.iter().any(
                |s| matches!(s, Step::View { path, .. } if path == Path::new("/proc/meminfo"))
            )
        );
        assert!(binds(&steps).contains(&("/data/layers/x".into(), "/opt".into())));
    }

    #[test]
    fn only_deep_non_system_paths_are_exposed() {
        assert!(exposable(Path::new("/root/.pyenv/versions/3.11.7/lib")));
        assert!(exposable(Path::new("/opt/python/bin")));
        assert!(!exposable(Path::new("/root")));
        assert!(!exposable(Path::new("/usr/local/bin")));
        assert!(!exposable(Path::new("/etc/ssl")));
        assert!(!exposable(Path::new("/tmp/x/y")));
        assert!(!exposable(Path::new("/proc/1/root")));
        assert!(!exposable(Path::new("relative/path")));
        assert!(!exposable(Path::new("/a/../etc")));
    }
}
