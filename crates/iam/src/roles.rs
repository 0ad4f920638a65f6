//! Roles: trust policies, maximum session durations, descriptions, tags.

use crate::page::{page, truncation};
use crate::query::{Xml, encode_policy};
use crate::validate::{self, PolicyUse};
use crate::{Cx, IamError, tags};
use chrono::Utc;
use ignis_identity::entities::{Kind, Role, SessionOf, key};
use ignis_identity::{State, Touched, ids};

/// MaxSessionDuration's bounds and default, in seconds.
const MIN_MAX_SESSION: i64 = 3600;
const MAX_MAX_SESSION: i64 = 43_200;

pub fn not_found(name: &str) -> IamError {
    IamError::no_such_entity(format!("The role with name {name} cannot be found."))
}

pub fn get<'s>(state: &'s State, name: &str) -> Result<&'s Role, IamError> {
    state.roles.get(&key(name)).ok_or_else(|| not_found(name))
}

fn get_mut<'s>(state: &'s mut State, name: &str) -> Result<&'s mut Role, IamError> {
    state
        .roles
        .get_mut(&key(name))
        .ok_or_else(|| not_found(name))
}

/// A `Role` element's members (`full`: with tags and `RoleLastUsed`, as GetRole answers).
fn write(x: &mut Xml, r: &Role, full: bool) {
    x.el("Path", &r.path)
        .el("RoleName", &r.name)
        .el("RoleId", &r.id)
        .el("Arn", &r.arn)
        .date("CreateDate", &r.created)
        .el("AssumeRolePolicyDocument", &encode_policy(&r.trust))
        .opt("Description", r.description.as_deref())
        .el("MaxSessionDuration", &r.max_session_seconds.to_string());
    if full {
        if !r.tags.is_empty() {
            tags::write(x, "Tags", &r.tags);
        }
        x.wrap("RoleLastUsed", |_| {});
    }
}

fn role_arn(cx: &Cx<'_>, name: &str) -> String {
    match cx.identity().snapshot().roles.get(&key(name)) {
        Some(r) => r.arn.clone(),
        None => cx.arn("role/", "", name),
    }
}

fn max_session(cx: &Cx<'_>) -> Result<Option<u32>, IamError> {
    match cx.p.integer("MaxSessionDuration")? {
        None => Ok(None),
        Some(n) if (MIN_MAX_SESSION..=MAX_MAX_SESSION).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(IamError::validation(format!(
            "1 validation error detected: Value '{n}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value {}",
            if n < MIN_MAX_SESSION {
                "greater than or equal to 3600"
            } else {
                "less than or equal to 43200"
            }
        ))),
    }
}

pub async fn operation(cx: &Cx<'_>, action: &str) -> Result<Option<Xml>, IamError> {
    match action {
        "CreateRole" => create(cx).await.map(Some),
        "GetRole" => {
            let name = cx.p.required("RoleName")?;
            cx.allow("iam:GetRole", &role_arn(cx, name))?;
            let state = cx.identity().snapshot();
            let role = get(&state, name)?;
            let mut x = Xml::new();
            x.wrap("Role", |x| write(x, role, true));
            Ok(Some(x))
        }
        "UpdateRole" => update(cx).await.map(|()| Some(Xml::new())),
        "DeleteRole" => delete(cx).await.map(|()| None),
        "UpdateAssumeRolePolicy" => trust(cx).await.map(|()| None),
        "ListRoles" => list(cx).map(Some),
        "TagRole" => {
            let name = cx.p.required("RoleName")?.to_string();
            cx.allow("iam:TagRole", &role_arn(cx, &name))?;
            let new = tags::given(&cx.p)?;
            cx.identity()
                .change(|state| {
                    tags::merge(&mut get_mut(state, &name)?.tags, new)?;
                    Ok((None, vec![Touched(Kind::Role, key(&name))]))
                })
                .await
        }
        "UntagRole" => {
            let name = cx.p.required("RoleName")?.to_string();
            cx.allow("iam:UntagRole", &role_arn(cx, &name))?;
            let keys = cx.p.list("TagKeys");
            cx.identity()
                .change(|state| {
                    tags::remove(&mut get_mut(state, &name)?.tags, &keys);
                    Ok((None, vec![Touched(Kind::Role, key(&name))]))
                })
                .await
        }
        _ => {
            let name = cx.p.required("RoleName")?;
            cx.allow("iam:ListRoleTags", &role_arn(cx, name))?;
            let state = cx.identity().snapshot();
            tags::list(&get(&state, name)?.tags, &cx.p).map(Some)
        }
    }
}

async fn create(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let name = validate::name("RoleName", cx.p.required("RoleName")?, 64)?.to_string();
    let path = validate::path("Path", cx.p.get("Path"))?.to_string();
    let document = cx.p.required("AssumeRolePolicyDocument")?.to_string();
    let description = validate::description(cx.p.get("Description"))?;
    let max = max_session(cx)?.unwrap_or(MIN_MAX_SESSION as u32);
    let arn = cx.arn("role", &path, &name);
    cx.allow("iam:CreateRole", &arn)?;
    validate::policy(&document, PolicyUse::Trust)?;
    let tags = tags::given(&cx.p)?;
    let role = cx
        .identity()
        .change(|state| {
            let k = key(&name);
            if state.roles.contains_key(&k) {
                return Err(IamError::exists(format!(
                    "Role with name {name} already exists."
                )));
            }
            let role = Role {
                name: name.clone(),
                id: ids::unique_id("AROA"),
                path,
                arn,
                created: Utc::now(),
                trust: document,
                description,
                max_session_seconds: max,
                tags,
                inline: Default::default(),
                attached: Vec::new(),
            };
            state.roles.insert(k.clone(), role.clone());
            Ok((role, vec![Touched(Kind::Role, k)]))
        })
        .await?;
    let mut x = Xml::new();
    x.wrap("Role", |x| {
        write(x, &role, false);
        if !role.tags.is_empty() {
            tags::write(x, "Tags", &role.tags);
        }
    });
    Ok(x)
}

async fn update(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = cx.p.required("RoleName")?.to_string();
    cx.allow("iam:UpdateRole", &role_arn(cx, &name))?;
    let description = validate::description(cx.p.get("Description"))?;
    let max = max_session(cx)?;
    cx.identity()
        .change(|state| {
            let role = get_mut(state, &name)?;
            if description.is_some() {
                role.description = description;
            }
            if let Some(m) = max {
                role.max_session_seconds = m;
            }
            Ok(((), vec![Touched(Kind::Role, key(&name))]))
        })
        .await
}

async fn trust(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = cx.p.required("RoleName")?.to_string();
    let document = cx.p.required("PolicyDocument")?.to_string();
    cx.allow("iam:UpdateAssumeRolePolicy", &role_arn(cx, &name))?;
    validate::policy(&document, PolicyUse::Trust)?;
    cx.identity()
        .change(|state| {
            get_mut(state, &name)?.trust = document;
            Ok(((), vec![Touched(Kind::Role, key(&name))]))
        })
        .await
}

async fn delete(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = cx.p.required("RoleName")?.to_string();
    cx.allow("iam:DeleteRole", &role_arn(cx, &name))?;
    cx.identity()
        .change(|state| {
            let k = key(&name);
            let role = get(state, &name)?;
            if !role.inline.is_empty() {
                return Err(IamError::conflict(
                    "Cannot delete entity, must delete policies first.",
                ));
            }
            if !role.attached.is_empty() {
                return Err(IamError::conflict(
                    "Cannot delete entity, must detach all policies first.",
                ));
            }
            state.roles.remove(&k);
            // Its sessions end with it.
            let mut touched = vec![Touched(Kind::Role, k.clone())];
            state.sessions.retain(|id, s| {
                let keep = !matches!(&s.of, SessionOf::Role { role, .. } if *role == k);
                if !keep {
                    touched.push(Touched(Kind::Session, id.clone()));
                }
                keep
            });
            Ok(((), touched))
        })
        .await
}

fn list(cx: &Cx<'_>) -> Result<Xml, IamError> {
    cx.allow("iam:ListRoles", "*")?;
    let prefix = validate::path("PathPrefix", cx.p.get("PathPrefix"))?;
    let state = cx.identity().snapshot();
    let items = state
        .roles
        .iter()
        .filter(|(_, r)| r.path.starts_with(prefix))
        .map(|(k, r)| (k.clone(), r))
        .collect();
    let (roles, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("Roles", roles, |x, r| write(x, r, false));
    truncation(&mut x, next);
    Ok(x)
}
