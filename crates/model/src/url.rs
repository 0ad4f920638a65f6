//! Function URLs: a function's (or an alias's) dedicated HTTP endpoint and its configuration.

/// Who may call a function URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlAuthType {
    /// Anyone the function's resource policy allows (`"NONE"`).
    None,
    /// Callers signing with SigV4 whom the policies allow (`"AWS_IAM"`).
    AwsIam,
}

/// How a function URL answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    /// The whole response at once (`"BUFFERED"`).
    Buffered,
    /// The response as the function writes it (`"RESPONSE_STREAM"`).
    ResponseStream,
}

/// A function URL's cross-origin resource sharing settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    pub allow_credentials: Option<bool>,
    pub allow_headers: Option<Vec<String>>,
    pub allow_methods: Option<Vec<String>>,
    pub allow_origins: Option<Vec<String>>,
    pub expose_headers: Option<Vec<String>>,
    pub max_age: Option<i32>,
}

/// One function URL's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUrl {
    /// 32 lower-case characters, `[a-z0-9]`.
    pub url_id: String,
    /// The function's name.
    pub function: String,
    /// `None` for `$LATEST` (the unqualified function), else the alias.
    pub qualifier: Option<String>,
    pub auth_type: UrlAuthType,
    pub invoke_mode: InvokeMode,
    pub cors: Option<Cors>,
    pub creation_time: String,
    pub last_modified_time: String,
}

/// The address a URL is served at: `http://<url_id>.lambda-url.<region>.localhost:<port>/`.
pub fn address(url_id: &str, region: &str, port: u16) -> String {
    format!("http://{}:{port}/", domain(url_id, region))
}

/// A URL's domain name: `<url_id>.lambda-url.<region>.localhost`.
pub fn domain(url_id: &str, region: &str) -> String {
    format!("{url_id}.lambda-url.{region}.localhost")
}
