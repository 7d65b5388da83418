//! The SDK configuration, read from the environment the way AWS tools read it.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `AWS_REGION`, else `AWS_DEFAULT_REGION` | the region (required) |
//! | `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL` | an endpoint override, e.g. `http://127.0.0.1:8000` |
//! | `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` | ignore both endpoint overrides |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | credentials (the first two required) |
//! | `AWS_MAX_ATTEMPTS` | attempts per call including retries (default 3) |
//!
//! These are what AWS Lambda sets for a function's execution role. Profiles (`~/.aws/config`), SSO and
//! instance metadata are not read: the IOmod stays small and starts in milliseconds.

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// A setting missing or malformed in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// What the environment says, before it becomes an SDK configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The region.
    pub region: String,
    /// The endpoint override, if any.
    pub endpoint_url: Option<String>,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
    /// Attempts per call, including retries.
    pub max_attempts: u32,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable's value, if set).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                ConfigError("no region: set AWS_REGION (for example AWS_REGION=us-east-1)".into())
            })?;
        let ignore_endpoints = get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
        let endpoint_url = if ignore_endpoints {
            None
        } else {
            get("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| get("AWS_ENDPOINT_URL"))
        };
        if let Some(url) = &endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "the DynamoDB endpoint {url:?} is not an http:// or https:// URL"
            )));
        }
        let access_key_id = get("AWS_ACCESS_KEY_ID");
        let secret_access_key = get("AWS_SECRET_ACCESS_KEY");
        let (Some(access_key_id), Some(secret_access_key)) = (access_key_id, secret_access_key)
        else {
            return Err(ConfigError(
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
                 AWS_SESSION_TOKEN for temporary credentials)"
                    .into(),
            ));
        };
        let max_attempts = match get("AWS_MAX_ATTEMPTS") {
            None => 3,
            Some(value) => match value.trim().parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(ConfigError(format!(
                        "AWS_MAX_ATTEMPTS={value:?} is not a whole number of at least 1"
                    )));
                }
            },
        };
        Ok(Self {
            region,
            endpoint_url,
            access_key_id,
            secret_access_key,
            session_token: get("AWS_SESSION_TOKEN"),
            max_attempts,
        })
    }

    /// The SDK configuration: these settings, HTTPS through rustls (with the system's root certificates)
    /// and plain HTTP for an `http://` endpoint.
    pub fn sdk_config(&self) -> aws_sdk_dynamodb::Config {
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut builder = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(
                &self.access_key_id,
                &self.secret_access_key,
                self.session_token.clone(),
                None,
                "environment",
            ))
            .retry_config(RetryConfig::standard().with_max_attempts(self.max_attempts))
            .http_client(http_client);
        if let Some(url) = &self.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    const CREDENTIALS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    #[test]
    fn the_service_specific_endpoint_wins_and_can_be_ignored() {
        let mut vars = vec![
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
        ];
        vars.extend(CREDENTIALS);
        let s = settings(&vars).unwrap();
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(s.max_attempts, 3);
        vars.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        assert_eq!(settings(&vars).unwrap().endpoint_url, None);
    }

    #[test]
    fn missing_or_malformed_settings_are_explained() {
        let e = settings(&CREDENTIALS).unwrap_err();
        assert!(e.0.contains("AWS_REGION"), "{e}");
        let e = settings(&[("AWS_REGION", "us-east-1")]).unwrap_err();
        assert!(e.0.contains("AWS_ACCESS_KEY_ID"), "{e}");
        let mut vars = vec![("AWS_REGION", "us-east-1"), ("AWS_MAX_ATTEMPTS", "zero")];
        vars.extend(CREDENTIALS);
        assert!(settings(&vars).unwrap_err().0.contains("AWS_MAX_ATTEMPTS"));
        let mut vars = vec![
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "localhost:8000"),
        ];
        vars.extend(CREDENTIALS);
        assert!(settings(&vars).unwrap_err().0.contains("not an http"));
    }
}
