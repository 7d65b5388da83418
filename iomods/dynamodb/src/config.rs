//! The SDK configuration, the way AWS tools find it: the environment first, then the standard chains of
//! `aws-config` (profiles in `~/.aws/config` and `~/.aws/credentials`, SSO, web identity, ECS and EKS
//! container credentials, EC2 instance metadata), with credentials refreshed before they expire.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `AWS_REGION`, else `AWS_DEFAULT_REGION` | the region; else the profile's, else the instance's |
//! | `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL` | an endpoint override, e.g. `http://127.0.0.1:8000` |
//! | `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` | ignore both endpoint overrides |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | static credentials; without them the standard chain (`AWS_PROFILE`, `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_CONTAINER_CREDENTIALS_*`, instance metadata, ...) |
//! | `AWS_EC2_METADATA_DISABLED=true` | never ask the instance metadata service (outside EC2 it costs a timeout) |
//! | `AWS_MAX_ATTEMPTS` | attempts per call including retries (default 3; writes, see [`crate::retry`]) |
//! | `IOMOD_DYNAMODB_OPERATION_TIMEOUT_MS` | a bound on one call, all attempts included (default none: the caller's deadline bounds it) |
//! | `IOMOD_DYNAMODB_ATTEMPT_TIMEOUT_MS` | a bound on one attempt (default none) |
//!
//! On AWS Lambda the execution role's credentials are in the environment, and nothing else is read: the
//! IOmod starts in milliseconds. Start-up checks that a region and credentials are found, so a missing
//! setting stops the IOmod with a clear message instead of failing every call.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, ProvideCredentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// How long start-up waits for the credential chain (a profile's SSO token, a container endpoint, ...).
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(10);

/// A setting missing or malformed in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Static credentials, from the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What the environment says, before the standard chains fill in the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The region, when the environment names one.
    pub region: Option<String>,
    /// The endpoint override, if any.
    pub endpoint_url: Option<String>,
    /// Static credentials, when the environment has them; otherwise the standard chain finds them.
    pub credentials: Option<StaticCredentials>,
    /// Attempts per call, including retries.
    pub max_attempts: u32,
    /// A bound on one call, all attempts included.
    pub operation_timeout: Option<Duration>,
    /// A bound on one attempt.
    pub attempt_timeout: Option<Duration>,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable's value, if set).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
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
        let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Some(StaticCredentials {
                access_key_id,
                secret_access_key,
                session_token: get("AWS_SESSION_TOKEN"),
            }),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError(
                    "incomplete credentials: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                     (and AWS_SESSION_TOKEN for temporary credentials), or neither"
                        .into(),
                ));
            }
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
        let millis = |name: &str| match get(name) {
            None => Ok(None),
            Some(value) => match value.trim().parse::<u64>() {
                Ok(ms) if (1..=86_400_000).contains(&ms) => Ok(Some(Duration::from_millis(ms))),
                _ => Err(ConfigError(format!(
                    "{name}={value:?} is not a number of milliseconds from 1 to 86400000"
                ))),
            },
        };
        Ok(Self {
            region,
            endpoint_url,
            credentials,
            max_attempts,
            operation_timeout: millis("IOMOD_DYNAMODB_OPERATION_TIMEOUT_MS")?,
            attempt_timeout: millis("IOMOD_DYNAMODB_ATTEMPT_TIMEOUT_MS")?,
        })
    }

    /// The DynamoDB client's configuration: [`Settings::load`]'s.
    pub async fn sdk_config(&self) -> Result<aws_sdk_dynamodb::Config, ConfigError> {
        Ok(aws_sdk_dynamodb::config::Builder::from(&self.load().await?).build())
    }

    /// The shared AWS configuration: these settings, what the standard chains find for the rest
    /// (checked: a region and credentials must be found), HTTPS through rustls (with the system's root
    /// certificates) and plain HTTP for an `http://` endpoint.
    pub async fn load(&self) -> Result<aws_config::SdkConfig, ConfigError> {
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut timeouts = TimeoutConfig::builder();
        if let Some(timeout) = self.operation_timeout {
            timeouts = timeouts.operation_timeout(timeout);
        }
        if let Some(timeout) = self.attempt_timeout {
            timeouts = timeouts.operation_attempt_timeout(timeout);
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .retry_config(RetryConfig::standard().with_max_attempts(self.max_attempts))
            .timeout_config(timeouts.build());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = &self.credentials {
            loader = loader.credentials_provider(Credentials::new(
                &credentials.access_key_id,
                &credentials.secret_access_key,
                credentials.session_token.clone(),
                None,
                "environment",
            ));
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(ConfigError(
                "no region: set AWS_REGION (for example AWS_REGION=us-east-1), or a region in the \
                 profile's configuration"
                    .into(),
            ));
        }
        let no_credentials = |why: String| {
            ConfigError(format!(
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN \
                 for temporary credentials), or configure a profile, SSO, web identity, or container or \
                 instance credentials ({why})"
            ))
        };
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| no_credentials("no credential provider".into()))?;
        match tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(no_credentials(
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
                ));
            }
            Err(_) => {
                return Err(no_credentials(format!(
                    "the standard chain found none within {CREDENTIALS_TIMEOUT:?}"
                )));
            }
        }
        Ok(sdk)
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
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(s.max_attempts, 3);
        vars.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        assert_eq!(settings(&vars).unwrap().endpoint_url, None);
    }

    #[test]
    fn missing_or_malformed_settings_are_explained() {
        // Region and credentials may come from the standard chains instead.
        assert_eq!(settings(&CREDENTIALS).unwrap().region, None);
        assert_eq!(
            settings(&[("AWS_REGION", "us-east-1")])
                .unwrap()
                .credentials,
            None
        );
        let e = settings(&[("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "x")]).unwrap_err();
        assert!(e.0.contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        for bad in ["0", "soon", "-5", "99999999999"] {
            let e = settings(&[("IOMOD_DYNAMODB_ATTEMPT_TIMEOUT_MS", bad)]).unwrap_err();
            assert!(e.0.contains("IOMOD_DYNAMODB_ATTEMPT_TIMEOUT_MS"), "{e}");
        }
        let s = settings(&[("IOMOD_DYNAMODB_OPERATION_TIMEOUT_MS", "2500")]).unwrap();
        assert_eq!(s.operation_timeout, Some(Duration::from_millis(2500)));
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

    #[tokio::test]
    async fn credentials_from_a_profile_file_are_found_by_the_standard_chain() {
        let dir =
            std::env::temp_dir().join(format!("iomod-dynamodb-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let credentials = dir.join("credentials");
        std::fs::write(
            &credentials,
            "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret\n",
        )
        .unwrap();
        // The chain reads the process environment: only variables no other test sets.
        // SAFETY: set before the chain runs; no other test of this binary reads these variables.
        unsafe {
            std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &credentials);
            std::env::set_var("AWS_CONFIG_FILE", dir.join("config"));
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        }
        let settings = settings(&[("AWS_REGION", "us-east-1")]).unwrap();
        let config = settings.load().await.unwrap();
        let found = config
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(found.access_key_id(), "AKIDPROFILE");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
