//! X-Ray trace ids: the `X-Amzn-Trace-Id` header a caller sends, how an invocation continues it
//! and decides whether it is sampled (as the function's `TracingConfig` says), and the W3C ids
//! (OpenTelemetry's) the same trace has.
//!
//! The header is `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0|1`, and
//! `;Lineage=<8 hex>:<count>` (`|`-separated, one per loop-detecting hop) when a service added it.
//! An X-Ray root maps to a W3C trace id by dropping the `1-` and the dash; a parent is a span id.

use crate::TracingMode;
use std::fmt;

/// The header callers send, and the name of the field in a function URL's event.
pub const HEADER: &str = "x-amzn-trace-id";

/// The longest `Lineage` kept (a value past it is dropped as malformed).
const MAX_LINEAGE: usize = 256;

/// An X-Ray trace id (`1-<epoch>-<unique>`), which is also a W3C trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRoot([u8; 16]);

impl TraceRoot {
    /// A new root started at `epoch_secs`.
    pub fn new(epoch_secs: u32) -> TraceRoot {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&epoch_secs.to_be_bytes());
        id[4..].copy_from_slice(&random::<12>());
        TraceRoot(id)
    }

    /// Parses `1-<8 hex>-<24 hex>`.
    pub fn parse(s: &str) -> Option<TraceRoot> {
        let rest = s.strip_prefix("1-")?;
        let (epoch, unique) = rest.split_once('-')?;
        if epoch.len() != 8 || unique.len() != 24 {
            return None;
        }
        let mut id = [0u8; 16];
        decode_hex(epoch, &mut id[..4])?;
        decode_hex(unique, &mut id[4..])?;
        Some(TraceRoot(id))
    }

    /// The W3C (OpenTelemetry) trace id: the same 16 bytes.
    pub fn w3c(&self) -> [u8; 16] {
        self.0
    }
}

impl fmt::Display for TraceRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1-{}-{}", hex(&self.0[..4]), hex(&self.0[4..]))
    }
}

/// A span id: an X-Ray segment's id, a W3C parent id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanId([u8; 8]);

impl SpanId {
    /// A new random, non-zero id.
    pub fn random() -> SpanId {
        loop {
            let id = random::<8>();
            if id != [0; 8] {
                return SpanId(id);
            }
        }
    }

    /// Parses 16 hex digits (an all-zero id is not one).
    pub fn parse(s: &str) -> Option<SpanId> {
        let mut id = [0u8; 8];
        (s.len() == 16).then_some(())?;
        decode_hex(s, &mut id)?;
        (id != [0; 8]).then_some(SpanId(id))
    }

    pub fn bytes(&self) -> [u8; 8] {
        self.0
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// What a caller's `X-Amzn-Trace-Id` says; each field that is missing or malformed is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: Option<TraceRoot>,
    pub parent: Option<SpanId>,
    /// `Sampled=1` or `Sampled=0`; `Sampled=?` (a decision asked for) and none are `None`.
    pub sampled: Option<bool>,
    pub lineage: Option<String>,
}

impl TraceHeader {
    /// Parses a header leniently, as X-Ray's SDKs do: fields in any order, keys in any case,
    /// whitespace around them ignored, unknown fields skipped.
    pub fn parse(value: &str) -> TraceHeader {
        let mut h = TraceHeader::default();
        for field in value.split(';') {
            let Some((key, v)) = field.split_once('=') else {
                continue;
            };
            let v = v.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "root" => h.root = TraceRoot::parse(v),
                "parent" => h.parent = SpanId::parse(v),
                "sampled" => {
                    h.sampled = match v {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    }
                }
                "lineage" if is_lineage(v) => h.lineage = Some(v.to_string()),
                _ => {}
            }
        }
        h
    }
}

/// `<8 hex>:<count>` entries separated by `|`.
fn is_lineage(v: &str) -> bool {
    v.len() <= MAX_LINEAGE
        && v.split('|').all(|e| {
            e.split_once(':').is_some_and(|(hash, n)| {
                hash.len() == 8
                    && hash.bytes().all(|b| b.is_ascii_hexdigit())
                    && !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
            })
        })
}

/// The trace one invocation belongs to, decided once where the invocation entered Ignis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub root: TraceRoot,
    /// The caller's segment (span), when it said which: the invocation's span is its child.
    pub parent: Option<SpanId>,
    pub sampled: bool,
    pub lineage: Option<String>,
}

impl TraceContext {
    /// Continues `incoming` (a new root when it has none; a parent without its root is
    /// dropped) and decides sampling as Lambda does for the function's tracing mode:
    /// `PassThrough` traces only what the caller sampled (`Sampled=1`); `Active` respects the
    /// caller's decision and, when there is none, asks `sample` (the default sampling rule).
    pub fn continue_from(
        incoming: Option<&TraceHeader>,
        mode: TracingMode,
        now_epoch_secs: u32,
        sample: impl FnOnce() -> bool,
    ) -> TraceContext {
        let incoming = incoming.cloned().unwrap_or_default();
        let (root, parent) = match incoming.root {
            Some(root) => (root, incoming.parent),
            None => (TraceRoot::new(now_epoch_secs), None),
        };
        let sampled = match (mode, incoming.sampled) {
            (TracingMode::PassThrough, s) => s == Some(true),
            (TracingMode::Active, Some(s)) => s,
            (TracingMode::Active, None) => sample(),
        };
        TraceContext {
            root,
            parent,
            sampled,
            lineage: incoming.lineage,
        }
    }

    /// The header as Lambda received it once decided (the caller's parent, the decision):
    /// what a function URL's event shows and what a queued event keeps, so that continuing it
    /// again gives the same trace.
    pub fn header(&self) -> String {
        self.format(self.parent)
    }

    /// The decided trace as a header to continue (what [`TraceContext::header`] parses to).
    pub fn as_header(&self) -> TraceHeader {
        TraceHeader {
            root: Some(self.root),
            parent: self.parent,
            sampled: Some(self.sampled),
            lineage: self.lineage.clone(),
        }
    }

    /// `_X_AMZN_TRACE_ID` and `Lambda-Runtime-Trace-Id`: the same trace, with `parent` the
    /// span the function's own work belongs under.
    pub fn runtime_header(&self, parent: SpanId) -> String {
        self.format(Some(parent))
    }

    fn format(&self, parent: Option<SpanId>) -> String {
        let mut s = format!("Root={}", self.root);
        if let Some(p) = parent {
            s.push_str(&format!(";Parent={p}"));
        }
        s.push_str(if self.sampled {
            ";Sampled=1"
        } else {
            ";Sampled=0"
        });
        if let Some(l) = &self.lineage {
            s.push_str(&format!(";Lineage={l}"));
        }
        s
    }
}

/// What made an invocation happen, as OpenTelemetry's `faas.trigger` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trigger {
    /// A function URL.
    Http,
    /// A change in a data source (an object notification).
    Datasource,
    /// A direct invoke.
    #[default]
    Other,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Http => "http",
            Trigger::Datasource => "datasource",
            Trigger::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Trigger {
        match s {
            "http" => Trigger::Http,
            "datasource" => Trigger::Datasource,
            _ => Trigger::Other,
        }
    }
}

/// `N` random bytes (from a v4 UUID's 122 random bits).
fn random<const N: usize>() -> [u8; N] {
    let u = *uuid::Uuid::new_v4().as_bytes();
    // Bytes 6 and 8 hold the version and variant bits: skip them.
    let bits = [
        u[0], u[1], u[2], u[3], u[4], u[5], u[7], u[9], u[10], u[11], u[12], u[13], u[14], u[15],
    ];
    let mut out = [0u8; N];
    out.copy_from_slice(&bits[..N]);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str, out: &mut [u8]) -> Option<()> {
    if s.len() != out.len() * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn parses_aws_headers_leniently() {
        let h = TraceHeader::parse(&format!(
            "Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=12326a9d:0"
        ));
        assert_eq!(h.root.unwrap().to_string(), ROOT);
        assert_eq!(h.parent.unwrap().to_string(), "53995c3f42cd8ad8");
        assert_eq!(h.sampled, Some(true));
        assert_eq!(h.lineage.as_deref(), Some("12326a9d:0"));

        let h = TraceHeader::parse(&format!(" sampled=? ; root={ROOT} ;Self=1-abc;x"));
        assert_eq!(h.root.unwrap().to_string(), ROOT);
        assert_eq!((h.parent, h.sampled), (None, None));

        let bad = TraceHeader::parse("Root=1-xyz;Parent=0000000000000000;Sampled=2;Lineage=a:b");
        assert_eq!(bad, TraceHeader::default());
        assert_eq!(
            TraceHeader::parse("Root=2-5759e988-bd862e3fe1be46a994272793").root,
            None
        );
    }

    #[test]
    fn continues_the_callers_trace() {
        let h = TraceHeader::parse(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"));
        let c = TraceContext::continue_from(Some(&h), TracingMode::PassThrough, 7, || false);
        assert_eq!(
            c.header(),
            format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")
        );
        let p = SpanId::parse("00000000000000aa").unwrap();
        assert_eq!(
            c.runtime_header(p),
            format!("Root={ROOT};Parent=00000000000000aa;Sampled=1")
        );
        // Continuing what was decided gives the same trace, whatever the mode.
        let again = TraceHeader::parse(&c.header());
        assert_eq!(again, c.as_header());
        for mode in [TracingMode::PassThrough, TracingMode::Active] {
            assert_eq!(
                TraceContext::continue_from(Some(&again), mode, 9, || false),
                c
            );
        }
    }

    #[test]
    fn samples_as_the_tracing_mode_says() {
        let decide = |header: &str, mode, rule: bool| {
            TraceContext::continue_from(Some(&TraceHeader::parse(header)), mode, 1, || rule).sampled
        };
        use TracingMode::{Active, PassThrough};
        let root = format!("Root={ROOT}");
        for rule in [true, false] {
            assert!(decide(&format!("{root};Sampled=1"), PassThrough, rule));
            assert!(!decide(&format!("{root};Sampled=0"), PassThrough, rule));
            assert!(!decide(&root, PassThrough, rule));
            assert!(!decide("", PassThrough, rule));
            assert!(decide(&format!("{root};Sampled=1"), Active, rule));
            assert!(!decide(&format!("{root};Sampled=0"), Active, rule));
            assert_eq!(decide(&format!("{root};Sampled=?"), Active, rule), rule);
            assert_eq!(decide("", Active, rule), rule);
        }
    }

    #[test]
    fn a_new_trace_has_xrays_shape_and_maps_to_w3c() {
        let c = TraceContext::continue_from(None, TracingMode::PassThrough, 1_700_000_000, || true);
        assert!(!c.sampled && c.parent.is_none());
        let s = c.root.to_string();
        assert!(s.starts_with("1-6553f100-") && s.len() == 35, "{s}");
        assert_eq!(c.header(), format!("Root={s};Sampled=0"));
        let w3c: String = c.root.w3c().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(w3c, s.replacen("1-", "", 1).replace('-', ""));
        // A parent without its root names nothing: dropped with the new root.
        let orphan = TraceHeader::parse("Parent=53995c3f42cd8ad8;Sampled=1");
        let c = TraceContext::continue_from(Some(&orphan), TracingMode::Active, 1, || false);
        assert!(c.parent.is_none() && c.sampled);
        assert_ne!(TraceRoot::new(1), TraceRoot::new(1));
        assert_ne!(SpanId::random(), SpanId::random());
    }
}
