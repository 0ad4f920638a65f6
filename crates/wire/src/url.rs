//! Shapes of the function URL configuration API: CreateFunctionUrlConfig,
//! GetFunctionUrlConfig, UpdateFunctionUrlConfig, DeleteFunctionUrlConfig and
//! ListFunctionUrlConfigs (botocore's `lambda` model, API version `2021-10-31`).

use ignis_model::ValidationError;
use ignis_model::url::{Cors, FunctionUrl, InvokeMode, UrlAuthType};
use serde::{Deserialize, Serialize};

/// `Cors`, each member present only when set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CorsShape {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i32>,
}

impl From<CorsShape> for Cors {
    fn from(c: CorsShape) -> Cors {
        Cors {
            allow_credentials: c.allow_credentials,
            allow_headers: c.allow_headers,
            allow_methods: c.allow_methods,
            allow_origins: c.allow_origins,
            expose_headers: c.expose_headers,
            max_age: c.max_age,
        }
    }
}

impl From<&Cors> for CorsShape {
    fn from(c: &Cors) -> CorsShape {
        CorsShape {
            allow_credentials: c.allow_credentials,
            allow_headers: c.allow_headers.clone(),
            allow_methods: c.allow_methods.clone(),
            allow_origins: c.allow_origins.clone(),
            expose_headers: c.expose_headers.clone(),
            max_age: c.max_age,
        }
    }
}

/// The body of CreateFunctionUrlConfig and UpdateFunctionUrlConfig (`Qualifier` is in the
/// query).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlConfigRequest {
    pub auth_type: Option<String>,
    pub cors: Option<CorsShape>,
    pub invoke_mode: Option<String>,
}

/// What a request sets, once its members are parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlSettings {
    pub auth_type: Option<UrlAuthType>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<InvokeMode>,
}

impl UrlConfigRequest {
    /// The settings, and every model constraint the body breaks, in the order of its members
    /// (`AuthType` is required when `auth_required`, as CreateFunctionUrlConfig requires it).
    pub fn settings(self, auth_required: bool) -> (UrlSettings, Vec<ValidationError>) {
        let mut found = Vec::new();
        let auth_type = match self.auth_type.as_deref() {
            Some(a) => UrlAuthType::parse(a).map_err(|e| found.push(e)).ok(),
            None if auth_required => {
                found.push(ValidationError::Null { field: "authType" });
                None
            }
            None => None,
        };
        let cors = self.cors.map(Cors::from);
        if let Some(c) = &cors {
            found.extend(c.violations());
        }
        let invoke_mode = self
            .invoke_mode
            .as_deref()
            .and_then(|m| InvokeMode::parse(m).map_err(|e| found.push(e)).ok());
        let settings = UrlSettings {
            auth_type,
            cors,
            invoke_mode,
        };
        (settings, found)
    }
}

/// `FunctionUrlConfig`, and the answers of Create, Get and Update, which are its members less
/// some: Create has no `LastModifiedTime`, and Create and Update show `InvokeMode` only when
/// the request set it (as AWS's recorded answers do).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlConfig {
    pub function_url: String,
    pub function_arn: String,
    pub auth_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsShape>,
    pub creation_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_mode: Option<&'static str>,
}

impl FunctionUrlConfig {
    /// Every member, as GetFunctionUrlConfig and ListFunctionUrlConfigs show them.
    pub fn from_url(url: &FunctionUrl, function_url: String, function_arn: String) -> Self {
        FunctionUrlConfig {
            function_url,
            function_arn,
            auth_type: url.auth_type.as_str(),
            cors: url.cors.as_ref().map(CorsShape::from),
            creation_time: url.creation_time.clone(),
            last_modified_time: Some(url.last_modified_time.clone()),
            invoke_mode: Some(url.invoke_mode.as_str()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionUrlConfigsResponse {
    pub function_url_configs: Vec<FunctionUrlConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> UrlConfigRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn settings_parse_and_report_every_violation() {
        let (s, errors) = request(
            r#"{"AuthType":"AWS_IAM","InvokeMode":"RESPONSE_STREAM","Cors":{"AllowOrigins":["*"],"MaxAge":60}}"#,
        )
        .settings(true);
        assert!(errors.is_empty());
        assert_eq!(s.auth_type, Some(UrlAuthType::AwsIam));
        assert_eq!(s.invoke_mode, Some(InvokeMode::ResponseStream));
        let cors = s.cors.unwrap();
        assert_eq!(cors.allow_origins, Some(vec!["*".to_string()]));
        assert_eq!(cors.max_age, Some(60));
        assert_eq!(cors.allow_credentials, None);

        let (_, errors) = request(r#"{"Cors":{"MaxAge":-5},"InvokeMode":"X"}"#).settings(true);
        let e = ValidationError::collect(errors).unwrap_err().to_string();
        assert_eq!(
            e,
            "3 validation errors detected: Value null at 'authType' failed to satisfy constraint: Member must not be null; Value '-5' at 'cors.maxAge' failed to satisfy constraint: Member must have value greater than or equal to 0; Value 'X' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"
        );
        let (s, errors) = request("{}").settings(false);
        assert!(errors.is_empty());
        assert_eq!(s, UrlSettings::default());
    }

    #[test]
    fn configs_print_only_the_members_they_have() {
        let url = FunctionUrl {
            url_id: "a".repeat(32),
            function: "f".into(),
            qualifier: None,
            auth_type: UrlAuthType::None,
            invoke_mode: InvokeMode::Buffered,
            cors: Some(Cors {
                allow_methods: Some(vec!["GET".into()]),
                ..Cors::default()
            }),
            creation_time: "c".into(),
            last_modified_time: "m".into(),
        };
        let full = FunctionUrlConfig::from_url(&url, "u".into(), "arn".into());
        assert_eq!(
            serde_json::to_string(&full).unwrap(),
            r#"{"FunctionUrl":"u","FunctionArn":"arn","AuthType":"NONE","Cors":{"AllowMethods":["GET"]},"CreationTime":"c","LastModifiedTime":"m","InvokeMode":"BUFFERED"}"#
        );
        let created = FunctionUrlConfig {
            last_modified_time: None,
            invoke_mode: None,
            cors: None,
            ..full
        };
        assert_eq!(
            serde_json::to_string(&created).unwrap(),
            r#"{"FunctionUrl":"u","FunctionArn":"arn","AuthType":"NONE","CreationTime":"c"}"#
        );
    }
}
