//! Policies: inline policies of users, groups and roles; customer managed policies with their
//! versions (at most five, one the default); AWS managed policies; attaching managed policies
//! to users, groups and roles.

use crate::page::{page, truncation};
use crate::query::{Xml, encode_policy};
use crate::validate::{self, PolicyUse};
use crate::{Cx, IamError, groups, roles, users};
use chrono::Utc;
use ignis_identity::entities::{InlinePolicies, Kind, ManagedPolicy, PolicyVersion, key};
use ignis_identity::{State, Touched, ids, managed};

/// Versions one managed policy may have.
const MAX_VERSIONS: usize = 5;
/// Managed policies one user, group or role may have attached.
const MAX_ATTACHED: usize = 10;
/// A managed policy's size, in characters other than white space.
const MAX_MANAGED_SIZE: usize = 6144;

/// Whose policies an operation is about.
#[derive(Clone, Copy)]
enum Owner {
    User,
    Group,
    Role,
}

impl Owner {
    /// `User` of `PutUserPolicy`, `GetUserPolicy`, …
    fn of(action: &str) -> Option<Owner> {
        if action.contains("User") {
            Some(Owner::User)
        } else if action.contains("Group") {
            Some(Owner::Group)
        } else if action.contains("Role") {
            Some(Owner::Role)
        } else {
            None
        }
    }

    fn word(self) -> &'static str {
        match self {
            Owner::User => "User",
            Owner::Group => "Group",
            Owner::Role => "Role",
        }
    }

    fn member(self) -> String {
        format!("{}Name", self.word())
    }

    fn kind(self) -> Kind {
        match self {
            Owner::User => Kind::User,
            Owner::Group => Kind::Group,
            Owner::Role => Kind::Role,
        }
    }

    /// All its inline policies together may be this large (characters other than white space).
    fn inline_limit(self) -> usize {
        match self {
            Owner::User => 2048,
            Owner::Group => 5120,
            Owner::Role => 10_240,
        }
    }

    fn arn(self, state: &State, name: &str) -> Result<String, IamError> {
        Ok(match self {
            Owner::User => users::get(state, name)?.arn.clone(),
            Owner::Group => groups::get(state, name)?.arn.clone(),
            Owner::Role => roles::get(state, name)?.arn.clone(),
        })
    }

    fn parts(self, state: &State, name: &str) -> Result<(InlinePolicies, Vec<String>), IamError> {
        Ok(match self {
            Owner::User => {
                let u = users::get(state, name)?;
                (u.inline.clone(), u.attached.clone())
            }
            Owner::Group => {
                let g = groups::get(state, name)?;
                (g.inline.clone(), g.attached.clone())
            }
            Owner::Role => {
                let r = roles::get(state, name)?;
                (r.inline.clone(), r.attached.clone())
            }
        })
    }

    fn parts_mut<'s>(
        self,
        state: &'s mut State,
        name: &str,
    ) -> Result<(&'s mut InlinePolicies, &'s mut Vec<String>), IamError> {
        let k = key(name);
        match self {
            Owner::User => state
                .users
                .get_mut(&k)
                .map(|u| (&mut u.inline, &mut u.attached))
                .ok_or_else(|| users::not_found(name)),
            Owner::Group => state
                .groups
                .get_mut(&k)
                .map(|g| (&mut g.inline, &mut g.attached))
                .ok_or_else(|| groups::not_found(name)),
            Owner::Role => state
                .roles
                .get_mut(&k)
                .map(|r| (&mut r.inline, &mut r.attached))
                .ok_or_else(|| roles::not_found(name)),
        }
    }
}

/// The operation `action`, if it is one of this module's.
pub async fn operation(cx: &Cx<'_>, action: &str) -> Option<Result<Option<Xml>, IamError>> {
    let owner = Owner::of(action);
    Some(match (action, owner) {
        ("PutUserPolicy" | "PutGroupPolicy" | "PutRolePolicy", Some(o)) => {
            put_inline(cx, o, action).await.map(|()| None)
        }
        ("GetUserPolicy" | "GetGroupPolicy" | "GetRolePolicy", Some(o)) => {
            get_inline(cx, o, action).map(Some)
        }
        ("DeleteUserPolicy" | "DeleteGroupPolicy" | "DeleteRolePolicy", Some(o)) => {
            delete_inline(cx, o, action).await.map(|()| None)
        }
        ("ListUserPolicies" | "ListGroupPolicies" | "ListRolePolicies", Some(o)) => {
            list_inline(cx, o, action).map(Some)
        }
        ("AttachUserPolicy" | "AttachGroupPolicy" | "AttachRolePolicy", Some(o)) => {
            attach(cx, o, action, true).await.map(|()| None)
        }
        ("DetachUserPolicy" | "DetachGroupPolicy" | "DetachRolePolicy", Some(o)) => {
            attach(cx, o, action, false).await.map(|()| None)
        }
        (
            "ListAttachedUserPolicies" | "ListAttachedGroupPolicies" | "ListAttachedRolePolicies",
            Some(o),
        ) => list_attached(cx, o, action).map(Some),
        ("CreatePolicy", _) => create(cx).await.map(Some),
        ("GetPolicy", _) => get_policy(cx).map(Some),
        ("ListPolicies", _) => list(cx).map(Some),
        ("DeletePolicy", _) => delete(cx).await.map(|()| None),
        ("CreatePolicyVersion", _) => create_version(cx).await.map(Some),
        ("GetPolicyVersion", _) => get_version(cx).map(Some),
        ("ListPolicyVersions", _) => list_versions(cx).map(Some),
        ("DeletePolicyVersion", _) => delete_version(cx).await.map(|()| None),
        ("SetDefaultPolicyVersion", _) => set_default(cx).await.map(|()| None),
        _ => return None,
    })
}

/// The owner's ARN for authorising (the one it would have when it does not exist).
fn owner_arn(cx: &Cx<'_>, owner: Owner, name: &str) -> String {
    owner
        .arn(&cx.identity().snapshot(), name)
        .unwrap_or_else(|_| cx.arn(&format!("{}/", owner.word().to_lowercase()), "", name))
}

fn inline_not_found(owner: Owner, name: &str) -> IamError {
    IamError::no_such_entity(format!(
        "The {} policy with name {name} cannot be found.",
        owner.word().to_lowercase()
    ))
}

async fn put_inline(cx: &Cx<'_>, owner: Owner, action: &str) -> Result<(), IamError> {
    let member = owner.member();
    let name = cx.p.required(&member)?.to_string();
    let policy = validate::name("PolicyName", cx.p.required("PolicyName")?, 128)?.to_string();
    let document = cx.p.required("PolicyDocument")?.to_string();
    cx.allow(&format!("iam:{action}"), &owner_arn(cx, owner, &name))?;
    validate::policy(&document, PolicyUse::Identity)?;
    cx.identity()
        .change(|state| {
            let (inline, _) = owner.parts_mut(state, &name)?;
            let others: usize = inline
                .iter()
                .filter(|(n, _)| **n != policy)
                .map(|(_, d)| validate::policy_size(d))
                .sum();
            if others + validate::policy_size(&document) > owner.inline_limit() {
                return Err(IamError::limit(format!(
                    "Maximum policy size of {} bytes exceeded for {} {name}",
                    owner.inline_limit(),
                    owner.word().to_lowercase()
                )));
            }
            inline.insert(policy, document);
            Ok(((), vec![Touched(owner.kind(), key(&name))]))
        })
        .await
}

fn get_inline(cx: &Cx<'_>, owner: Owner, action: &str) -> Result<Xml, IamError> {
    let member = owner.member();
    let name = cx.p.required(&member)?;
    let policy = cx.p.required("PolicyName")?;
    cx.allow(&format!("iam:{action}"), &owner_arn(cx, owner, name))?;
    let state = cx.identity().snapshot();
    let (inline, _) = owner.parts(&state, name)?;
    let document = inline
        .get(policy)
        .ok_or_else(|| inline_not_found(owner, policy))?;
    let mut x = Xml::new();
    x.el(&member, name)
        .el("PolicyName", policy)
        .el("PolicyDocument", &encode_policy(document));
    Ok(x)
}

async fn delete_inline(cx: &Cx<'_>, owner: Owner, action: &str) -> Result<(), IamError> {
    let name = cx.p.required(&owner.member())?.to_string();
    let policy = cx.p.required("PolicyName")?.to_string();
    cx.allow(&format!("iam:{action}"), &owner_arn(cx, owner, &name))?;
    cx.identity()
        .change(|state| {
            let (inline, _) = owner.parts_mut(state, &name)?;
            inline
                .remove(&policy)
                .ok_or_else(|| inline_not_found(owner, &policy))?;
            Ok(((), vec![Touched(owner.kind(), key(&name))]))
        })
        .await
}

fn list_inline(cx: &Cx<'_>, owner: Owner, action: &str) -> Result<Xml, IamError> {
    let name = cx.p.required(&owner.member())?;
    cx.allow(&format!("iam:{action}"), &owner_arn(cx, owner, name))?;
    let (inline, _) = owner.parts(&cx.identity().snapshot(), name)?;
    let items = inline.into_keys().map(|n| (n.clone(), n)).collect();
    let (names, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("PolicyNames", names, |x, n| {
        x.text(&n);
    });
    truncation(&mut x, next);
    Ok(x)
}

/// A policy ARN as given: `arn:aws:iam::<account or aws>:policy<path><name>`.
fn policy_arn(cx: &Cx<'_>) -> Result<String, IamError> {
    let arn = cx.p.required("PolicyArn")?;
    let valid = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(":policy/"))
        .is_some_and(|(account, name)| !account.is_empty() && !name.is_empty());
    if valid {
        Ok(arn.to_string())
    } else {
        Err(IamError::invalid_input(format!("ARN {arn} is not valid.")))
    }
}

fn not_attachable(arn: &str) -> IamError {
    IamError::no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

/// The name of a managed policy (customer or AWS), if it exists.
fn managed_name(state: &State, arn: &str) -> Option<String> {
    match state.policies.get(arn) {
        Some(p) => Some(p.name.clone()),
        None => managed::get(arn).map(|p| p.name.clone()),
    }
}

async fn attach(cx: &Cx<'_>, owner: Owner, action: &str, on: bool) -> Result<(), IamError> {
    let name = cx.p.required(&owner.member())?.to_string();
    let arn = policy_arn(cx)?;
    cx.allow_with(
        &format!("iam:{action}"),
        &owner_arn(cx, owner, &name),
        &[("iam:PolicyARN", arn.clone())],
    )?;
    cx.identity()
        .change(|state| {
            let exists = managed_name(state, &arn).is_some();
            let (_, attached) = owner.parts_mut(state, &name)?;
            if on {
                if !exists {
                    return Err(not_attachable(&arn));
                }
                if !attached.contains(&arn) {
                    if attached.len() >= MAX_ATTACHED {
                        return Err(IamError::limit(format!(
                            "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
                            owner.word()
                        )));
                    }
                    attached.push(arn.clone());
                }
            } else if attached.contains(&arn) {
                attached.retain(|a| *a != arn);
            } else {
                return Err(IamError::no_such_entity(format!(
                    "Policy {arn} was not found."
                )));
            }
            Ok(((), vec![Touched(owner.kind(), key(&name))]))
        })
        .await
}

fn list_attached(cx: &Cx<'_>, owner: Owner, action: &str) -> Result<Xml, IamError> {
    let name = cx.p.required(&owner.member())?;
    cx.allow(&format!("iam:{action}"), &owner_arn(cx, owner, name))?;
    let prefix = validate::path("PathPrefix", cx.p.get("PathPrefix"))?;
    let state = cx.identity().snapshot();
    let (_, attached) = owner.parts(&state, name)?;
    let items = attached
        .iter()
        .filter_map(|arn| {
            let (name, path) = match state.policies.get(arn) {
                Some(p) => (p.name.clone(), p.path.clone()),
                None => managed::get(arn).map(|p| (p.name.clone(), p.path.clone()))?,
            };
            path.starts_with(prefix)
                .then(|| (arn.clone(), (name, arn.clone())))
        })
        .enumerate()
        .map(|(i, (_, v))| (format!("{i:04}"), v))
        .collect();
    let (policies, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("AttachedPolicies", policies, |x, (name, arn)| {
        x.el("PolicyName", &name).el("PolicyArn", &arn);
    });
    truncation(&mut x, next);
    Ok(x)
}

/// What GetPolicy, CreatePolicy and ListPolicies write of a policy.
struct PolicyView<'a> {
    name: &'a str,
    id: &'a str,
    arn: &'a str,
    path: &'a str,
    default_version: &'a str,
    attachments: usize,
    description: Option<&'a str>,
    created: chrono::DateTime<Utc>,
    updated: chrono::DateTime<Utc>,
}

impl PolicyView<'_> {
    fn write(&self, x: &mut Xml, with_description: bool) {
        x.el("PolicyName", self.name)
            .el("PolicyId", self.id)
            .el("Arn", self.arn)
            .el("Path", self.path)
            .el("DefaultVersionId", self.default_version)
            .el("AttachmentCount", &self.attachments.to_string())
            .el("PermissionsBoundaryUsageCount", "0")
            .el("IsAttachable", "true");
        if with_description {
            x.opt("Description", self.description);
        }
        x.date("CreateDate", &self.created)
            .date("UpdateDate", &self.updated);
    }
}

fn customer_view<'a>(state: &State, p: &'a ManagedPolicy) -> PolicyView<'a> {
    PolicyView {
        name: &p.name,
        id: &p.id,
        arn: &p.arn,
        path: &p.path,
        default_version: &p.default_version,
        attachments: state.attachment_count(&p.arn),
        description: p.description.as_deref(),
        created: p.created,
        updated: p.updated,
    }
}

fn aws_view(state: &State, p: &'static managed::AwsPolicy) -> PolicyView<'static> {
    PolicyView {
        name: &p.name,
        id: &p.id,
        arn: &p.arn,
        path: &p.path,
        default_version: &p.default_version,
        attachments: state.attachment_count(&p.arn),
        description: Some(&p.description),
        created: p.created,
        updated: p.updated,
    }
}

fn check_managed_document(document: &str) -> Result<(), IamError> {
    validate::policy(document, PolicyUse::Identity)?;
    if validate::policy_size(document) > MAX_MANAGED_SIZE {
        return Err(IamError::limit(format!(
            "Cannot exceed quota for PolicySize: {MAX_MANAGED_SIZE}"
        )));
    }
    Ok(())
}

async fn create(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let name = validate::name("PolicyName", cx.p.required("PolicyName")?, 128)?.to_string();
    let path = validate::path("Path", cx.p.get("Path"))?.to_string();
    let document = cx.p.required("PolicyDocument")?.to_string();
    let description = validate::description(cx.p.get("Description"))?;
    let arn = cx.arn("policy", &path, &name);
    cx.allow("iam:CreatePolicy", &arn)?;
    check_managed_document(&document)?;
    let tags = crate::tags::given(&cx.p)?;
    let policy = cx
        .identity()
        .change(|state| {
            if state.policies.values().any(|p| key(&p.name) == key(&name)) {
                return Err(IamError::exists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            let now = Utc::now();
            let policy = ManagedPolicy {
                name: name.clone(),
                id: ids::unique_id("ANPA"),
                path,
                arn: arn.clone(),
                created: now,
                updated: now,
                description,
                default_version: "v1".into(),
                versions: vec![PolicyVersion {
                    id: "v1".into(),
                    document,
                    created: now,
                }],
                next_version: 2,
                tags,
            };
            state.policies.insert(arn.clone(), policy.clone());
            Ok((policy, vec![Touched(Kind::Policy, arn.clone())]))
        })
        .await?;
    let state = cx.identity().snapshot();
    let mut x = Xml::new();
    x.wrap("Policy", |x| {
        customer_view(&state, &policy).write(x, false);
        if !policy.tags.is_empty() {
            crate::tags::write(x, "Tags", &policy.tags);
        }
    });
    Ok(x)
}

fn get_policy(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let arn = policy_arn(cx)?;
    cx.allow("iam:GetPolicy", &arn)?;
    let state = cx.identity().snapshot();
    let mut x = Xml::new();
    match (state.policies.get(&arn), managed::get(&arn)) {
        (Some(p), _) => x.wrap("Policy", |x| {
            customer_view(&state, p).write(x, true);
            if !p.tags.is_empty() {
                crate::tags::write(x, "Tags", &p.tags);
            }
        }),
        (None, Some(p)) => x.wrap("Policy", |x| aws_view(&state, p).write(x, true)),
        (None, None) => {
            return Err(IamError::no_such_entity(format!(
                "Policy {arn} was not found."
            )));
        }
    };
    Ok(x)
}

fn list(cx: &Cx<'_>) -> Result<Xml, IamError> {
    cx.allow("iam:ListPolicies", "*")?;
    let scope = cx.p.get("Scope").unwrap_or("All");
    if !matches!(scope, "All" | "AWS" | "Local") {
        return Err(IamError::validation(format!(
            "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
        )));
    }
    let only_attached = cx.p.boolean("OnlyAttached");
    let prefix = validate::path("PathPrefix", cx.p.get("PathPrefix"))?;
    let state = cx.identity().snapshot();
    let mut views: Vec<PolicyView<'_>> = Vec::new();
    if scope != "Local" {
        views.extend(managed::all().map(|p| aws_view(&state, p)));
    }
    if scope != "AWS" {
        views.extend(state.policies.values().map(|p| customer_view(&state, p)));
    }
    let items = views
        .into_iter()
        .filter(|v| v.path.starts_with(prefix) && (!only_attached || v.attachments > 0))
        .map(|v| (v.arn.to_string(), v))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let (views, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("Policies", views, |x, v| v.write(x, false));
    truncation(&mut x, next);
    Ok(x)
}

/// The customer managed policy `arn` for a change (AWS's own cannot be changed).
fn customer_mut<'s>(state: &'s mut State, arn: &str) -> Result<&'s mut ManagedPolicy, IamError> {
    if managed::get(arn).is_some() {
        return Err(IamError::access_denied(format!(
            "Policy {arn} is an AWS managed policy and cannot be changed."
        )));
    }
    state
        .policies
        .get_mut(arn)
        .ok_or_else(|| IamError::no_such_entity(format!("Policy {arn} was not found.")))
}

async fn delete(cx: &Cx<'_>) -> Result<(), IamError> {
    let arn = policy_arn(cx)?;
    cx.allow("iam:DeletePolicy", &arn)?;
    cx.identity()
        .change(|state| {
            let attached = state.attachment_count(&arn);
            let policy = customer_mut(state, &arn)?;
            if attached > 0 {
                return Err(IamError::conflict("Cannot delete a policy attached to entities."));
            }
            if policy.versions.len() > 1 {
                return Err(IamError::conflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
                ));
            }
            state.policies.remove(&arn);
            Ok(((), vec![Touched(Kind::Policy, arn.clone())]))
        })
        .await
}

fn write_version(x: &mut Xml, v: &PolicyVersion, default: &str, with_document: bool) {
    if with_document {
        x.el("Document", &encode_policy(&v.document));
    }
    x.el("VersionId", &v.id)
        .el(
            "IsDefaultVersion",
            if v.id == default { "true" } else { "false" },
        )
        .date("CreateDate", &v.created);
}

async fn create_version(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let arn = policy_arn(cx)?;
    let document = cx.p.required("PolicyDocument")?.to_string();
    let set_default = cx.p.boolean("SetAsDefault");
    cx.allow("iam:CreatePolicyVersion", &arn)?;
    check_managed_document(&document)?;
    let (version, default) = cx
        .identity()
        .change(|state| {
            let policy = customer_mut(state, &arn)?;
            if policy.versions.len() >= MAX_VERSIONS {
                return Err(IamError::limit(format!(
                    "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                )));
            }
            let now = Utc::now();
            let version = PolicyVersion {
                id: format!("v{}", policy.next_version),
                document,
                created: now,
            };
            policy.next_version += 1;
            policy.versions.push(version.clone());
            if set_default {
                policy.default_version = version.id.clone();
                policy.updated = now;
            }
            let default = policy.default_version.clone();
            Ok(((version, default), vec![Touched(Kind::Policy, arn.clone())]))
        })
        .await?;
    let mut x = Xml::new();
    x.wrap("PolicyVersion", |x| {
        write_version(x, &version, &default, false)
    });
    Ok(x)
}

/// A policy's versions (AWS managed policies: their default version) and its default.
fn versions(state: &State, arn: &str) -> Result<(Vec<PolicyVersion>, String), IamError> {
    match (state.policies.get(arn), managed::get(arn)) {
        (Some(p), _) => Ok((p.versions.clone(), p.default_version.clone())),
        (None, Some(p)) => Ok((
            vec![PolicyVersion {
                id: p.default_version.clone(),
                document: p.document.clone(),
                created: p.updated,
            }],
            p.default_version.clone(),
        )),
        (None, None) => Err(IamError::no_such_entity(format!(
            "Policy {arn} was not found."
        ))),
    }
}

fn get_version(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let arn = policy_arn(cx)?;
    let id = cx.p.required("VersionId")?;
    cx.allow("iam:GetPolicyVersion", &arn)?;
    let (all, default) = versions(&cx.identity().snapshot(), &arn)?;
    let version = all.iter().find(|v| v.id == id).ok_or_else(|| {
        IamError::no_such_entity(format!(
            "Policy {arn} version {id} does not exist or is not attachable."
        ))
    })?;
    let mut x = Xml::new();
    x.wrap("PolicyVersion", |x| {
        write_version(x, version, &default, true)
    });
    Ok(x)
}

fn list_versions(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let arn = policy_arn(cx)?;
    cx.allow("iam:ListPolicyVersions", &arn)?;
    let (mut all, default) = versions(&cx.identity().snapshot(), &arn)?;
    // Newest first, as AWS lists them.
    all.reverse();
    let items = all
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("{i:04}"), v))
        .collect();
    let (versions, next) = page(items, &cx.p)?;
    let mut x = Xml::new();
    x.list("Versions", versions, |x, v| {
        write_version(x, &v, &default, false)
    });
    truncation(&mut x, next);
    Ok(x)
}

fn version_not_found(arn: &str, id: &str) -> IamError {
    IamError::no_such_entity(format!(
        "Policy {arn} version {id} does not exist or is not attachable."
    ))
}

async fn delete_version(cx: &Cx<'_>) -> Result<(), IamError> {
    let arn = policy_arn(cx)?;
    let id = cx.p.required("VersionId")?.to_string();
    cx.allow("iam:DeletePolicyVersion", &arn)?;
    cx.identity()
        .change(|state| {
            let policy = customer_mut(state, &arn)?;
            if !policy.versions.iter().any(|v| v.id == id) {
                return Err(version_not_found(&arn, &id));
            }
            if policy.default_version == id {
                return Err(IamError::conflict(
                    "Cannot delete the default version of a policy.",
                ));
            }
            policy.versions.retain(|v| v.id != id);
            Ok(((), vec![Touched(Kind::Policy, arn.clone())]))
        })
        .await
}

async fn set_default(cx: &Cx<'_>) -> Result<(), IamError> {
    let arn = policy_arn(cx)?;
    let id = cx.p.required("VersionId")?.to_string();
    cx.allow("iam:SetDefaultPolicyVersion", &arn)?;
    cx.identity()
        .change(|state| {
            let policy = customer_mut(state, &arn)?;
            if !policy.versions.iter().any(|v| v.id == id) {
                return Err(version_not_found(&arn, &id));
            }
            policy.default_version = id;
            policy.updated = Utc::now();
            Ok(((), vec![Touched(Kind::Policy, arn.clone())]))
        })
        .await
}
