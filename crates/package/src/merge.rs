//! Merging extracted layer trees into one directory, the way Lambda fills `/opt`: layers in
//! order, a later layer's entry replacing an earlier one at the same path.

use std::fs;
use std::io;
use std::path::Path;

use crate::fsutil::{force_remove, set_mode};

/// Copies (as hard links where possible) the tree `src` into `dst`, replacing what is there.
///
/// Directories merge; any other entry at the same path is replaced (a file replaces a directory
/// and vice versa). Regular files are hard-linked, so a merged directory costs no data, and
/// copied if linking fails (another filesystem, too many links). Symbolic links are recreated
/// with the same target (the package's checks keep targets inside the package). Links in `src`
/// are never followed.
pub(crate) fn merge_tree(src: &Path, dst: &Path) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let existing = match fs::symlink_metadata(&to) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if kind.is_dir() {
            match existing {
                Some(m) if m.is_dir() => {}
                Some(_) => {
                    fs::remove_file(&to)?;
                    fs::create_dir(&to)?;
                }
                None => fs::create_dir(&to)?,
            }
            merge_tree(&from, &to)?;
            continue;
        }
        match existing {
            Some(m) if m.is_dir() => force_remove(&to)?,
            Some(_) => fs::remove_file(&to)?,
            None => {}
        }
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// Makes every directory under (and including) `root` read-only (0555); files keep their modes.
pub(crate) fn seal_dirs(root: &Path) -> io::Result<()> {
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            seal_dirs(&entry.path())?;
        }
    }
    set_mode(root, 0o555)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn later_layers_win_and_directories_merge() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, out) = (t.path().join("a"), t.path().join("b"), t.path().join("out"));
        for d in [&a, &b, &out] {
            fs::create_dir(d).unwrap();
        }
        write(&a, "python/mod.py", "A");
        write(&a, "python/only_a.py", "a");
        write(&a, "bin/tool", "file in a");
        write(&a, "lib/x", "dir in a");
        write(&b, "python/mod.py", "B");
        write(&b, "bin/tool/inner", "dir in b");
        write(&b, "lib", "file in b");
        std::os::unix::fs::symlink("mod.py", b.join("python/link.py")).unwrap();
        merge_tree(&a, &out).unwrap();
        merge_tree(&b, &out).unwrap();
        seal_dirs(&out).unwrap();
        let read = |rel: &str| fs::read_to_string(out.join(rel)).unwrap();
        assert_eq!(read("python/mod.py"), "B");
        assert_eq!(read("python/only_a.py"), "a");
        assert_eq!(read("python/link.py"), "B");
        assert_eq!(read("bin/tool/inner"), "dir in b");
        assert_eq!(read("lib"), "file in b");
        let mode = fs::metadata(out.join("python"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o555);
        // Sources are untouched.
        assert_eq!(fs::read_to_string(a.join("python/mod.py")).unwrap(), "A");
        force_remove(&out).unwrap();
    }
}
