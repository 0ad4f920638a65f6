//! Users and their access keys (and tags).

use crate::page::{page, truncation};
use crate::query::Xml;
use crate::validate;
use crate::{Cx, IamError, tags};
use chrono::Utc;
use ignis_identity::entities::{AccessKey, KeyStatus, Kind, SessionOf, User, key};
use ignis_identity::{Principal, State, Touched, ids};

/// Access keys one user may have.
const MAX_KEYS_PER_USER: usize = 2;

pub fn not_found(name: &str) -> IamError {
    IamError::no_such_entity(format!("The user with name {name} cannot be found."))
}

pub fn get<'s>(state: &'s State, name: &str) -> Result<&'s User, IamError> {
    state.users.get(&key(name)).ok_or_else(|| not_found(name))
}

pub fn get_mut<'s>(state: &'s mut State, name: &str) -> Result<&'s mut User, IamError> {
    state
        .users
        .get_mut(&key(name))
        .ok_or_else(|| not_found(name))
}

/// A `User` element's members.
pub fn write(x: &mut Xml, u: &User, with_tags: bool) {
    x.el("Path", &u.path)
        .el("UserName", &u.name)
        .el("UserId", &u.id)
        .el("Arn", &u.arn)
        .date("CreateDate", &u.created);
    if with_tags && !u.tags.is_empty() {
        tags::write(x, "Tags", &u.tags);
    }
}

/// The user a request names, or (without `UserName`) the calling user.
fn named_or_caller(cx: &Cx<'_>) -> Result<String, IamError> {
    match (cx.p.get("UserName"), &cx.principal) {
        (Some(name), _) => Ok(name.to_string()),
        (None, Principal::User { name, .. }) => Ok(name.clone()),
        (None, _) => Err(IamError::validation(
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

fn user_arn(cx: &Cx<'_>, name: &str) -> String {
    match cx.identity().snapshot().users.get(&key(name)) {
        Some(u) => u.arn.clone(),
        None => cx.arn("user/", "", name),
    }
}

pub async fn operation(cx: &Cx<'_>, action: &str) -> Result<Option<Xml>, IamError> {
    match action {
        "CreateUser" => create(cx).await.map(Some),
        "GetUser" => get_user(cx).map(Some),
        "ListUsers" => list(cx).map(Some),
        "UpdateUser" => update(cx).await.map(|()| None),
        "DeleteUser" => delete(cx).await.map(|()| None),
        "TagUser" => tag(cx).await.map(|()| None),
        "UntagUser" => untag(cx).await.map(|()| None),
        "ListUserTags" => {
            let name = cx.p.required("UserName")?;
            cx.allow("iam:ListUserTags", &user_arn(cx, name))?;
            let state = cx.identity().snapshot();
            tags::list(&get(&state, name)?.tags, &cx.p).map(Some)
        }
        "CreateAccessKey" => create_key(cx).await.map(Some),
        "ListAccessKeys" => list_keys(cx).map(Some),
        "UpdateAccessKey" => update_key(cx).await.map(|()| None),
        "DeleteAccessKey" => delete_key(cx).await.map(|()| None),
        _ => last_used(cx).map(Some),
    }
}

async fn create(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let name = validate::name("UserName", cx.p.required("UserName")?, 64)?.to_string();
    let path = validate::path("Path", cx.p.get("Path"))?.to_string();
    let arn = cx.arn("user", &path, &name);
    cx.allow("iam:CreateUser", &arn)?;
    let tags = tags::given(&cx.p)?;
    let user = cx
        .identity()
        .change(|state| {
            let k = key(&name);
            if state.users.contains_key(&k) {
                return Err(IamError::exists(format!(
                    "User with name {name} already exists."
                )));
            }
            let user = User {
                name: name.clone(),
                id: ids::unique_id("AIDA"),
                path,
                arn,
                created: Utc::now(),
                tags,
                inline: Default::default(),
                attached: Vec::new(),
                groups: Vec::new(),
            };
            state.users.insert(k.clone(), user.clone());
            Ok((user, vec![Touched(Kind::User, k)]))
        })
        .await?;
    let mut x = Xml::new();
    x.wrap("User", |x| write(x, &user, true));
    Ok(x)
}

fn get_user(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let mut x = Xml::new();
    if cx.p.get("UserName").is_none()
        && let Principal::Root { account } = &cx.principal
    {
        // The root user: its account id and ARN.
        x.wrap("User", |x| {
            x.el("UserId", account)
                .el("Arn", &cx.principal.arn())
                .date("CreateDate", &chrono::DateTime::UNIX_EPOCH);
        });
        return Ok(x);
    }
    let name = named_or_caller(cx)?;
    cx.allow("iam:GetUser", &user_arn(cx, &name))?;
    let state = cx.identity().snapshot();
    let user = get(&state, &name)?;
    x.wrap("User", |x| write(x, user, true));
    Ok(x)
}

fn list(cx: &Cx<'_>) -> Result<Xml, IamError> {
    cx.allow("iam:ListUsers", "*")?;
    let prefix = validate::path("PathPrefix", cx.p.get("PathPrefix"))?;
    let state = cx.identity().snapshot();
    let items = state
        .users
        .iter()
        .filter(|(_, u)| u.path.starts_with(prefix))
        .map(|(k, u)| (k.clone(), u))
        .collect();
    let (users, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("Users", users, |x, u| write(x, u, false));
    truncation(&mut x, next);
    Ok(x)
}

async fn update(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = cx.p.required("UserName")?.to_string();
    cx.allow("iam:UpdateUser", &user_arn(cx, &name))?;
    let new_name = match cx.p.get("NewUserName") {
        Some(n) => Some(validate::name("NewUserName", n, 64)?.to_string()),
        None => None,
    };
    let new_path = match cx.p.get("NewPath") {
        Some(p) => Some(validate::path("NewPath", Some(p))?.to_string()),
        None => None,
    };
    let account = cx.account().to_string();
    cx.identity()
        .change(|state| {
            let old = key(&name);
            let mut user = get(state, &name)?.clone();
            let mut touched = vec![Touched(Kind::User, old.clone())];
            if let Some(p) = new_path {
                user.path = p;
            }
            if let Some(n) = new_name {
                let new = key(&n);
                if new != old && state.users.contains_key(&new) {
                    return Err(IamError::exists(format!(
                        "User with name {n} already exists."
                    )));
                }
                user.name = n;
                state.users.remove(&old);
                for k in state.keys.values_mut().filter(|k| k.user == old) {
                    k.user = new.clone();
                    touched.push(Touched(Kind::AccessKey, k.id.clone()));
                }
                for s in state.sessions.values_mut() {
                    if let SessionOf::User { user } = &mut s.of
                        && *user == old
                    {
                        *user = new.clone();
                        touched.push(Touched(Kind::Session, s.key_id.clone()));
                    }
                }
                touched.push(Touched(Kind::User, new));
            }
            user.arn = format!("arn:aws:iam::{account}:user{}{}", user.path, user.name);
            state.users.insert(key(&user.name), user);
            Ok(((), touched))
        })
        .await
}

async fn delete(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = cx.p.required("UserName")?.to_string();
    cx.allow("iam:DeleteUser", &user_arn(cx, &name))?;
    cx.identity()
        .change(|state| {
            let k = key(&name);
            let user = get(state, &name)?;
            let conflict = |what: &str| {
                Err(IamError::conflict(format!(
                    "Cannot delete entity, must {what} first."
                )))
            };
            if state.keys.values().any(|a| a.user == k) {
                return conflict("delete access keys");
            }
            if !user.inline.is_empty() {
                return conflict("delete policies");
            }
            if !user.attached.is_empty() {
                return conflict("detach all policies");
            }
            if !user.groups.is_empty() {
                return conflict("remove users from group");
            }
            state.users.remove(&k);
            let mut touched = vec![Touched(Kind::User, k.clone())];
            state.sessions.retain(|id, s| {
                let keep = !matches!(&s.of, SessionOf::User { user } if *user == k);
                if !keep {
                    touched.push(Touched(Kind::Session, id.clone()));
                }
                keep
            });
            Ok(((), touched))
        })
        .await
}

async fn tag(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = cx.p.required("UserName")?.to_string();
    cx.allow("iam:TagUser", &user_arn(cx, &name))?;
    let new = tags::given(&cx.p)?;
    cx.identity()
        .change(|state| {
            let user = get_mut(state, &name)?;
            tags::merge(&mut user.tags, new)?;
            Ok(((), vec![Touched(Kind::User, key(&name))]))
        })
        .await
}

async fn untag(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = cx.p.required("UserName")?.to_string();
    cx.allow("iam:UntagUser", &user_arn(cx, &name))?;
    let keys = cx.p.list("TagKeys");
    cx.identity()
        .change(|state| {
            tags::remove(&mut get_mut(state, &name)?.tags, &keys);
            Ok(((), vec![Touched(Kind::User, key(&name))]))
        })
        .await
}

fn key_not_found(id: &str) -> IamError {
    IamError::no_such_entity(format!("The Access Key with id {id} cannot be found."))
}

/// An `AccessKey`/`AccessKeyMetadata` element's members (the secret only when created).
fn write_key(x: &mut Xml, user: &str, k: &AccessKey, secret: bool) {
    x.el("UserName", user)
        .el("AccessKeyId", &k.id)
        .el("Status", k.status.as_str());
    if secret {
        x.el("SecretAccessKey", &k.secret);
    }
    x.date("CreateDate", &k.created);
}

async fn create_key(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let name = named_or_caller(cx)?;
    cx.allow("iam:CreateAccessKey", &user_arn(cx, &name))?;
    let (user, created) = cx
        .identity()
        .change(|state| {
            let user = get(state, &name)?.name.clone();
            let k = key(&name);
            if state.keys.values().filter(|a| a.user == k).count() >= MAX_KEYS_PER_USER {
                return Err(IamError::limit(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
                )));
            }
            let created = AccessKey {
                id: ids::access_key_id("AKIA"),
                secret: ids::secret(),
                user: k,
                status: KeyStatus::Active,
                created: Utc::now(),
            };
            state.keys.insert(created.id.clone(), created.clone());
            let touched = vec![Touched(Kind::AccessKey, created.id.clone())];
            Ok(((user, created), touched))
        })
        .await?;
    let mut x = Xml::new();
    x.wrap("AccessKey", |x| write_key(x, &user, &created, true));
    Ok(x)
}

fn list_keys(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let name = named_or_caller(cx)?;
    cx.allow("iam:ListAccessKeys", &user_arn(cx, &name))?;
    let state = cx.identity().snapshot();
    let user = get(&state, &name)?;
    let k = key(&name);
    let mut keys: Vec<&AccessKey> = state.keys.values().filter(|a| a.user == k).collect();
    keys.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let items = keys.into_iter().map(|a| (a.id.clone(), a)).collect();
    let (keys, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("AccessKeyMetadata", keys, |x, a| {
        write_key(x, &user.name, a, false)
    });
    truncation(&mut x, next);
    Ok(x)
}

async fn update_key(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = named_or_caller(cx)?;
    let id = cx.p.required("AccessKeyId")?.to_string();
    let status = match cx.p.required("Status")? {
        "Active" => KeyStatus::Active,
        "Inactive" => KeyStatus::Inactive,
        other => {
            return Err(IamError::validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            )));
        }
    };
    cx.allow("iam:UpdateAccessKey", &user_arn(cx, &name))?;
    cx.identity()
        .change(|state| {
            get(state, &name)?;
            match state.keys.get_mut(&id) {
                Some(k) if k.user == key(&name) => k.status = status,
                _ => return Err(key_not_found(&id)),
            }
            Ok(((), vec![Touched(Kind::AccessKey, id.clone())]))
        })
        .await
}

async fn delete_key(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = named_or_caller(cx)?;
    let id = cx.p.required("AccessKeyId")?.to_string();
    cx.allow("iam:DeleteAccessKey", &user_arn(cx, &name))?;
    cx.identity()
        .change(|state| {
            get(state, &name)?;
            match state.keys.get(&id) {
                Some(k) if k.user == key(&name) => {
                    state.keys.remove(&id);
                }
                _ => return Err(key_not_found(&id)),
            }
            Ok(((), vec![Touched(Kind::AccessKey, id.clone())]))
        })
        .await
}

fn last_used(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let id = cx.p.required("AccessKeyId")?;
    let state = cx.identity().snapshot();
    let Some(k) = state.keys.get(id) else {
        return Err(key_not_found(id));
    };
    let user = state.users.get(&k.user).ok_or_else(|| key_not_found(id))?;
    cx.allow("iam:GetAccessKeyLastUsed", &user.arn)?;
    let used = cx.identity().last_used(id);
    let mut x = Xml::new();
    x.el("UserName", &user.name);
    x.wrap("AccessKeyLastUsed", |x| match &used {
        Some(u) => {
            x.date("LastUsedDate", &u.at)
                .el("ServiceName", &u.service)
                .el("Region", &u.region);
        }
        None => {
            x.el("ServiceName", "N/A").el("Region", "N/A");
        }
    });
    Ok(x)
}
