//! Tags of users and roles: TagUser/TagRole add or replace (keys regardless of case), Untag*
//! removes, ListUserTags/ListRoleTags pages them.

use crate::IamError;
use crate::page::{page, truncation};
use crate::query::{Params, Xml};
use crate::validate;
use ignis_identity::entities::Tag;

/// The `Tags` a request gives, checked.
pub fn given(p: &Params) -> Result<Vec<Tag>, IamError> {
    let tags = p.tags();
    validate::tags(&tags)?;
    Ok(tags
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect())
}

/// Adds or replaces `new` in `tags` (at most 50 in all).
pub fn merge(tags: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), IamError> {
    for t in new {
        match tags.iter_mut().find(|o| o.key.eq_ignore_ascii_case(&t.key)) {
            Some(o) => *o = t,
            None => tags.push(t),
        }
    }
    if tags.len() > 50 {
        return Err(IamError::limit(
            "The number of tags has reached the maximum limit.",
        ));
    }
    Ok(())
}

pub fn remove(tags: &mut Vec<Tag>, keys: &[String]) {
    tags.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
}

pub fn write(x: &mut Xml, name: &str, tags: &[Tag]) {
    x.list(name, tags, |x, t| {
        x.el("Key", &t.key).el("Value", &t.value);
    });
}

/// A page of tags (`ListUserTags`, `ListRoleTags`).
pub fn list(tags: &[Tag], p: &Params) -> Result<Xml, IamError> {
    let items = tags
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{i:04}"), t.clone()))
        .collect();
    let (tags, next) = page(items, p)?;
    let mut x = Xml::new();
    write(&mut x, "Tags", &tags);
    truncation(&mut x, next);
    Ok(x)
}
