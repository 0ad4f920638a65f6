//! The no-op functions' deployment packages, built in memory.

use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Python handler module; the handler is `lambda_function.handler`.
pub const PYTHON_HANDLER: &str = "lambda_function.handler";
const PYTHON_SOURCE: &str = "def handler(event, context):\n    return event\n";
/// Node.js handler module; the handler is `index.handler`.
pub const NODE_HANDLER: &str = "index.handler";
const NODE_SOURCE: &str = "exports.handler = async (event) => event;\n";

/// A zip holding `files` as `(name, content, unix mode)`.
pub fn zip(files: &[(&str, &[u8], u32)]) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content, mode) in files {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(*mode);
        writer.start_file(*name, options)?;
        writer.write_all(content)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// `lambda_function.py` whose handler returns the event.
pub fn python() -> zip::result::ZipResult<Vec<u8>> {
    zip(&[("lambda_function.py", PYTHON_SOURCE.as_bytes(), 0o644)])
}

/// `index.js` whose async handler returns the event.
pub fn node() -> zip::result::ZipResult<Vec<u8>> {
    zip(&[("index.js", NODE_SOURCE.as_bytes(), 0o644)])
}

/// The native no-op runtime as an executable `bootstrap`.
pub fn native(bootstrap: &[u8]) -> zip::result::ZipResult<Vec<u8>> {
    zip(&[("bootstrap", bootstrap, 0o755)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(bytes: Vec<u8>) -> Vec<(String, Vec<u8>, Option<u32>)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut f = archive.by_index(i).unwrap();
                let mut content = Vec::new();
                f.read_to_end(&mut content).unwrap();
                (f.name().unwrap().into_owned(), content, f.unix_mode())
            })
            .collect()
    }

    #[test]
    fn native_bootstrap_is_executable() {
        let e = entries(native(b"\x7fELF binary").unwrap());
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "bootstrap");
        assert_eq!(e[0].1, b"\x7fELF binary");
        assert_eq!(e[0].2.map(|m| m & 0o777), Some(0o755));
    }

    #[test]
    fn python_and_node_handlers() {
        let p = entries(python().unwrap());
        assert_eq!(p[0].0, "lambda_function.py");
        assert!(String::from_utf8_lossy(&p[0].1).contains("def handler(event, context)"));
        assert_eq!(p[0].2.map(|m| m & 0o777), Some(0o644));
        assert_eq!(PYTHON_HANDLER.split_once('.').unwrap().0, "lambda_function");

        let n = entries(node().unwrap());
        assert_eq!(n[0].0, "index.js");
        assert!(String::from_utf8_lossy(&n[0].1).contains("exports.handler = async"));
        assert_eq!(NODE_HANDLER.split_once('.').unwrap().0, "index");
    }
}
