//! IAM's pagination: `MaxItems` (1 to 1,000, 100 when not given) and an opaque `Marker`, the
//! answer's `IsTruncated` and `Marker`.

use crate::IamError;
use crate::query::{Params, Xml};

/// One page of `items`, each with the key it is ordered by (the items come in that order).
pub fn page<T>(items: Vec<(String, T)>, p: &Params) -> Result<(Vec<T>, Option<String>), IamError> {
    let max = match p.integer("MaxItems")? {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(n) => {
            return Err(IamError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value {}",
                if n < 1 {
                    "greater than or equal to 1"
                } else {
                    "less than or equal to 1000"
                }
            )));
        }
    };
    let start = p.get("Marker").map(str::to_string);
    let mut rest = items
        .into_iter()
        .skip_while(|(k, _)| start.as_ref().is_some_and(|m| k < m));
    let taken: Vec<T> = rest.by_ref().take(max).map(|(_, v)| v).collect();
    let next = rest.next().map(|(k, _)| k);
    Ok((taken, next))
}

/// `IsTruncated` and, when truncated, `Marker`.
pub fn truncation(x: &mut Xml, next: Option<String>) {
    x.el("IsTruncated", if next.is_some() { "true" } else { "false" });
    x.opt("Marker", next.as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_markers() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let (first, next) = page(items.clone(), &Params::parse(Some("MaxItems=2"), b"")).unwrap();
        assert_eq!(first, vec![0, 1]);
        let marker = next.unwrap();
        let (second, next) = page(
            items.clone(),
            &Params::parse(Some(&format!("MaxItems=2&Marker={marker}")), b""),
        )
        .unwrap();
        assert_eq!(second, vec![2, 3]);
        let q = format!("MaxItems=2&Marker={}", next.unwrap());
        let (last, next) = page(items.clone(), &Params::parse(Some(&q), b"")).unwrap();
        assert_eq!((last, next), (vec![4], None));
        assert!(page(items, &Params::parse(Some("MaxItems=0"), b"")).is_err());
    }
}
