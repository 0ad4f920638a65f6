//! Who may call a function URL.
//!
//! `NONE`: anyone, when the function's resource policy (on the URL's qualifier) allows
//! `lambda:InvokeFunctionUrl` with `lambda:FunctionUrlAuthType` `NONE` **and**
//! `lambda:InvokeFunction` to an anonymous caller (with `lambda:InvokedViaFunctionUrl` true), as
//! Lambda requires of new URLs since October 2025. The verdict is kept per URL for as long as
//! the policy's revision (its qualifier's `RevisionId`, which every policy change replaces) is
//! the same, so a request reads no disk.
//!
//! `AWS_IAM`: a SigV4 signature for service `lambda` by a key `ignis-identity` knows, whose
//! principal may take both `lambda:InvokeFunctionUrl` (with `lambda:FunctionUrlAuthType`
//! `AWS_IAM`) and `lambda:InvokeFunction` (with `lambda:InvokedViaFunctionUrl` true) on the
//! URL's function and qualifier, by its identity-based policies or the function's policy and
//! denied by neither, as Lambda decides for a principal of the function's account.

use crate::FunctionUrls;
use ignis_identity::{FunctionDecision, FunctionResource, Principal};
use ignis_model::url::FunctionUrl;
use ignis_store::ServiceRequest;
use std::collections::HashMap;
use std::sync::Mutex;

/// Verdicts on anonymous callers, per URL id, with the policy revision they were made for.
#[derive(Default)]
pub struct Verdicts(Mutex<HashMap<String, (String, bool)>>);

/// The revision of the policy a URL's invocations are checked against.
fn revision(urls: &FunctionUrls, url: &FunctionUrl) -> Option<String> {
    match &url.qualifier {
        None => urls
            .store
            .cached(&url.function, ignis_model::arn::LATEST)
            .map(|c| c.revision_id.clone()),
        Some(alias) => urls
            .store
            .cached_alias(&url.function, alias)
            .map(|a| a.revision_id),
    }
}

/// Whether the function's policy lets anyone call this `NONE` URL.
pub async fn anyone_may_call(urls: &FunctionUrls, url: &FunctionUrl) -> bool {
    let Some(revision) = revision(urls, url) else {
        return false;
    };
    if let Some((seen, verdict)) = urls
        .verdicts
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&url.url_id)
        && *seen == revision
    {
        return *verdict;
    }
    let function_arn = urls.account.function_arn(&url.function);
    let mut verdict = true;
    for action in ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"] {
        let request = ServiceRequest {
            action,
            function_arn: &function_arn,
            function_url_auth_type: Some("NONE"),
            invoked_via_function_url: Some("true"),
            ..Default::default()
        };
        match urls
            .store
            .function_allows_service(&url.function, url.qualifier.as_deref(), &request)
            .await
        {
            Ok(allowed) => verdict &= allowed,
            Err(e) => {
                tracing::error!(error = ?e, "cannot read a function's policy");
                return false;
            }
        }
    }
    urls.verdicts
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(url.url_id.clone(), (revision, verdict));
    verdict
}

/// Whether the signer of a request to this `AWS_IAM` URL may call it.
pub async fn signer_may_call(
    urls: &FunctionUrls,
    url: &FunctionUrl,
    principal: &Principal,
    source_ip: std::net::IpAddr,
) -> bool {
    let unqualified = urls.account.function_arn(&url.function);
    let arn = match &url.qualifier {
        Some(q) => format!("{unqualified}:{q}"),
        None => unqualified.clone(),
    };
    let function = FunctionResource {
        name: &url.function,
        qualifier: url.qualifier.as_deref(),
        unqualified_arn: &unqualified,
        arn: &arn,
    };
    let ip = source_ip.to_string();
    for (action, key, value) in [
        (
            "lambda:InvokeFunctionUrl",
            "lambda:FunctionUrlAuthType",
            "AWS_IAM",
        ),
        (
            "lambda:InvokeFunction",
            "lambda:InvokedViaFunctionUrl",
            "true",
        ),
    ] {
        let extra = [(key, value.to_string())];
        let decision = urls
            .identity
            .decide_on_function(principal, Some(ip.clone()), action, &function, &extra)
            .await;
        if decision != FunctionDecision::Allow {
            return false;
        }
    }
    true
}
