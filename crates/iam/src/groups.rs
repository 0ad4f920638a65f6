//! Groups and their members.

use crate::page::{page, truncation};
use crate::query::Xml;
use crate::{Cx, IamError, users, validate};
use chrono::Utc;
use ignis_identity::entities::{Group, Kind, key};
use ignis_identity::{State, Touched, ids};

/// Groups one user may be in.
const MAX_GROUPS_PER_USER: usize = 10;

pub fn not_found(name: &str) -> IamError {
    IamError::no_such_entity(format!("The group with name {name} cannot be found."))
}

pub fn get<'s>(state: &'s State, name: &str) -> Result<&'s Group, IamError> {
    state.groups.get(&key(name)).ok_or_else(|| not_found(name))
}

fn write(x: &mut Xml, g: &Group) {
    x.el("Path", &g.path)
        .el("GroupName", &g.name)
        .el("GroupId", &g.id)
        .el("Arn", &g.arn)
        .date("CreateDate", &g.created);
}

fn group_arn(cx: &Cx<'_>, name: &str) -> String {
    match cx.identity().snapshot().groups.get(&key(name)) {
        Some(g) => g.arn.clone(),
        None => cx.arn("group/", "", name),
    }
}

pub async fn operation(cx: &Cx<'_>, action: &str) -> Result<Option<Xml>, IamError> {
    match action {
        "CreateGroup" => create(cx).await.map(Some),
        "GetGroup" => get_group(cx).map(Some),
        "ListGroups" => list(cx).map(Some),
        "DeleteGroup" => delete(cx).await.map(|()| None),
        "AddUserToGroup" => membership(cx, true).await.map(|()| None),
        "RemoveUserFromGroup" => membership(cx, false).await.map(|()| None),
        _ => for_user(cx).map(Some),
    }
}

async fn create(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let name = validate::name("GroupName", cx.p.required("GroupName")?, 128)?.to_string();
    let path = validate::path("Path", cx.p.get("Path"))?.to_string();
    let arn = cx.arn("group", &path, &name);
    cx.allow("iam:CreateGroup", &arn)?;
    let group = cx
        .identity()
        .change(|state| {
            let k = key(&name);
            if state.groups.contains_key(&k) {
                return Err(IamError::exists(format!(
                    "Group with name {name} already exists."
                )));
            }
            let group = Group {
                name: name.clone(),
                id: ids::unique_id("AGPA"),
                path,
                arn,
                created: Utc::now(),
                inline: Default::default(),
                attached: Vec::new(),
            };
            state.groups.insert(k.clone(), group.clone());
            Ok((group, vec![Touched(Kind::Group, k)]))
        })
        .await?;
    let mut x = Xml::new();
    x.wrap("Group", |x| write(x, &group));
    Ok(x)
}

fn get_group(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let name = cx.p.required("GroupName")?;
    cx.allow("iam:GetGroup", &group_arn(cx, name))?;
    let state = cx.identity().snapshot();
    let group = get(&state, name)?;
    let k = key(name);
    let members = state
        .users
        .iter()
        .filter(|(_, u)| u.groups.contains(&k))
        .map(|(uk, u)| (uk.clone(), u))
        .collect();
    let (members, next) = page(members, &cx.p)?;
    let mut x = Xml::new();
    x.wrap("Group", |x| write(x, group));
    x.list("Users", members, |x, u| users::write(x, u, false));
    truncation(&mut x, next);
    Ok(x)
}

fn list(cx: &Cx<'_>) -> Result<Xml, IamError> {
    cx.allow("iam:ListGroups", "*")?;
    let prefix = validate::path("PathPrefix", cx.p.get("PathPrefix"))?;
    let state = cx.identity().snapshot();
    let items = state
        .groups
        .iter()
        .filter(|(_, g)| g.path.starts_with(prefix))
        .map(|(k, g)| (k.clone(), g))
        .collect();
    let (groups, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("Groups", groups, write);
    truncation(&mut x, next);
    Ok(x)
}

async fn delete(cx: &Cx<'_>) -> Result<(), IamError> {
    let name = cx.p.required("GroupName")?.to_string();
    cx.allow("iam:DeleteGroup", &group_arn(cx, &name))?;
    cx.identity()
        .change(|state| {
            let k = key(&name);
            let group = get(state, &name)?;
            let conflict = |what: &str| {
                Err(IamError::conflict(format!(
                    "Cannot delete entity, must {what} first."
                )))
            };
            if state.users.values().any(|u| u.groups.contains(&k)) {
                return conflict("remove users from group");
            }
            if !group.inline.is_empty() {
                return conflict("delete policies");
            }
            if !group.attached.is_empty() {
                return conflict("detach all policies");
            }
            state.groups.remove(&k);
            Ok(((), vec![Touched(Kind::Group, k)]))
        })
        .await
}

async fn membership(cx: &Cx<'_>, add: bool) -> Result<(), IamError> {
    let group = cx.p.required("GroupName")?.to_string();
    let user = cx.p.required("UserName")?.to_string();
    let action = if add {
        "iam:AddUserToGroup"
    } else {
        "iam:RemoveUserFromGroup"
    };
    cx.allow(action, &group_arn(cx, &group))?;
    cx.identity()
        .change(|state| {
            let gk = key(&get(state, &group)?.name);
            let u = users::get_mut(state, &user)?;
            if add {
                if !u.groups.contains(&gk) {
                    if u.groups.len() >= MAX_GROUPS_PER_USER {
                        return Err(IamError::limit(format!(
                            "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
                        )));
                    }
                    u.groups.push(gk);
                }
            } else if u.groups.contains(&gk) {
                u.groups.retain(|g| *g != gk);
            } else {
                return Err(IamError::no_such_entity(format!(
                    "The user with name {user} cannot be found in group {group}."
                )));
            }
            Ok(((), vec![Touched(Kind::User, key(&user))]))
        })
        .await
}

fn for_user(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let name = cx.p.required("UserName")?;
    let state = cx.identity().snapshot();
    let user = users::get(&state, name);
    let arn = match &user {
        Ok(u) => u.arn.clone(),
        Err(_) => cx.arn("user/", "", name),
    };
    cx.allow("iam:ListGroupsForUser", &arn)?;
    let user = user?;
    let items = user
        .groups
        .iter()
        .filter_map(|g| state.groups.get(g).map(|group| (g.clone(), group)))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let (groups, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("Groups", groups, write);
    truncation(&mut x, next);
    Ok(x)
}
