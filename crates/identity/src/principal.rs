//! Who made a request: the account's root user, an IAM user, or a role session, as AWS names
//! each (`GetCallerIdentity`'s `Arn` and `UserId`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account's root user (`arn:aws:iam::<account>:root`, UserId the account id).
    Root { account: String },
    /// An IAM user (its long-term key, or temporary credentials from GetSessionToken).
    User {
        account: String,
        name: String,
        id: String,
        arn: String,
    },
    /// A role session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`, UserId
    /// `<role id>:<session>`).
    RoleSession {
        account: String,
        role: String,
        role_id: String,
        role_arn: String,
        session: String,
        /// The session's temporary access key id.
        key_id: String,
    },
}

impl Principal {
    pub fn account(&self) -> &str {
        match self {
            Principal::Root { account }
            | Principal::User { account, .. }
            | Principal::RoleSession { account, .. } => account,
        }
    }

    pub fn is_root(&self) -> bool {
        matches!(self, Principal::Root { .. })
    }

    /// The ARN AWS reports for this caller.
    pub fn arn(&self) -> String {
        match self {
            Principal::Root { account } => format!("arn:aws:iam::{account}:root"),
            Principal::User { arn, .. } => arn.clone(),
            Principal::RoleSession {
                account,
                role,
                session,
                ..
            } => format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
        }
    }

    /// GetCallerIdentity's `UserId`.
    pub fn user_id(&self) -> String {
        match self {
            Principal::Root { account } => account.clone(),
            Principal::User { id, .. } => id.clone(),
            Principal::RoleSession {
                role_id, session, ..
            } => format!("{role_id}:{session}"),
        }
    }

    /// `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Principal::Root { .. } => "Account",
            Principal::User { .. } => "User",
            Principal::RoleSession { .. } => "AssumedRole",
        }
    }

    /// AWS's AccessDenied message for an action no identity-based policy allows:
    /// `User: <arn> is not authorized to perform: <action> on resource: <resource> because no
    /// identity-based policy allows the <action> action` (`explicit deny in an identity-based
    /// policy` when one denies it).
    pub fn denial(&self, action: &str, resource: &str, explicit: bool) -> String {
        let arn = self.arn();
        if explicit {
            format!(
                "User: {arn} is not authorized to perform: {action} on resource: {resource} with an explicit deny in an identity-based policy"
            )
        } else {
            format!(
                "User: {arn} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
            )
        }
    }

    /// The `AWS` principal values a trust or resource policy may name this caller by: its ARN
    /// (and its role's), its account's root ARN and its account id.
    pub fn policy_names(&self) -> Vec<String> {
        let account = self.account();
        let mut names = vec![
            self.arn(),
            format!("arn:aws:iam::{account}:root"),
            account.to_string(),
        ];
        if let Principal::RoleSession { role_arn, .. } = self {
            names.push(role_arn.clone());
        }
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_aws_forms_them() {
        let root = Principal::Root {
            account: "123456789012".into(),
        };
        assert_eq!(root.arn(), "arn:aws:iam::123456789012:root");
        assert_eq!(root.user_id(), "123456789012");
        let session = Principal::RoleSession {
            account: "123456789012".into(),
            role: "deployer".into(),
            role_id: "AROAEXAMPLE".into(),
            role_arn: "arn:aws:iam::123456789012:role/ci/deployer".into(),
            session: "build-7".into(),
            key_id: "ASIAEXAMPLE".into(),
        };
        assert_eq!(
            session.arn(),
            "arn:aws:sts::123456789012:assumed-role/deployer/build-7"
        );
        assert_eq!(session.user_id(), "AROAEXAMPLE:build-7");
        assert!(
            session
                .policy_names()
                .contains(&"arn:aws:iam::123456789012:role/ci/deployer".to_string())
        );
    }
}
