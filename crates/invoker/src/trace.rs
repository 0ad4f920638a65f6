//! X-Ray trace ids handed to the runtime in `Lambda-Runtime-Trace-Id`.

/// `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0`
pub fn new_trace_id(epoch_secs: u64) -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        epoch_secs as u32,
        &a[..24],
        &b[..16]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_have_xrays_shape() {
        let id = new_trace_id(1_700_000_000);
        let (root, rest) = id.split_once(";Parent=").unwrap();
        let (parent, sampled) = rest.split_once(';').unwrap();
        assert_eq!(sampled, "Sampled=0");
        let parts: Vec<&str> = root.strip_prefix("Root=").unwrap().split('-').collect();
        assert_eq!(parts[0], "1");
        assert_eq!(parts[1], "6553f100");
        assert_eq!(parts[2].len(), 24);
        assert_eq!(parent.len(), 16);
        let hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        };
        assert!(hex(parts[2]) && hex(parent));
        assert_ne!(new_trace_id(1), new_trace_id(1));
    }
}
