//! STS AssumeRole for runs that name an AWS role, with the worker's own identity (the
//! default AWS credential chain: environment, web identity (IRSA), container or
//! instance role). The temporary credentials live only in the worker's memory and in
//! the sandbox's environment; they are redacted from the run's log.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sts::config::Region;
use aws_sdk_sts::error::DisplayErrorContext;
use sage_model::catalog::cloud::AssumeRole;
use secrecy::{ExposeSecret, SecretString};

/// Where the worker asks STS.
#[derive(Debug, Clone)]
pub struct StsSettings {
    pub region: String,
    /// Unset for AWS itself; a local emulator's URL in development and tests.
    pub endpoint: Option<String>,
    /// The worker's own keys, when its identity is not the default chain's
    /// (environment, web identity, container or instance role).
    pub credentials: Option<(String, SecretString)>,
}

#[derive(Clone)]
pub struct Sts {
    client: aws_sdk_sts::Client,
}

/// A run's temporary credentials. Nothing prints them: no `Debug`.
pub struct TemporaryCredentials {
    access_key_id: SecretString,
    secret_access_key: SecretString,
    session_token: SecretString,
}

impl TemporaryCredentials {
    /// The environment variables every AWS SDK and CLI reads.
    pub fn env(&self) -> [(String, String); 3] {
        [
            ("AWS_ACCESS_KEY_ID", &self.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_access_key),
            ("AWS_SESSION_TOKEN", &self.session_token),
        ]
        .map(|(key, value)| (key.to_owned(), value.expose_secret().to_owned()))
    }

    /// The values to redact from the run's log.
    pub fn values(&self) -> [&str; 3] {
        [
            self.access_key_id.expose_secret(),
            self.secret_access_key.expose_secret(),
            self.session_token.expose_secret(),
        ]
    }
}

impl Sts {
    pub async fn new(settings: &StsSettings) -> Self {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_timeout(Duration::from_secs(20))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .timeout_config(timeouts);
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some((id, secret)) = &settings.credentials {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                id,
                secret.expose_secret(),
                None,
                None,
                "sage-settings",
            ));
        }
        Self {
            client: aws_sdk_sts::Client::new(&loader.load().await),
        }
    }

    /// Assumes the run's role. The error is STS's answer (code and message, never a
    /// credential), fit for the run's log.
    pub async fn assume(
        &self,
        role: &AssumeRole,
        session_name: &str,
    ) -> Result<TemporaryCredentials, String> {
        let answer = self
            .client
            .assume_role()
            .role_arn(&role.role_arn)
            .role_session_name(session_name)
            .duration_seconds(i32::try_from(role.duration_sec).unwrap_or(i32::MAX))
            .set_external_id(role.external_id().map(str::to_owned))
            .send()
            .await
            .map_err(|error| DisplayErrorContext(&error).to_string())?;
        let credentials = answer
            .credentials
            .ok_or_else(|| "STS answered without credentials".to_owned())?;
        Ok(TemporaryCredentials {
            access_key_id: credentials.access_key_id.into(),
            secret_access_key: credentials.secret_access_key.into(),
            session_token: credentials.session_token.into(),
        })
    }
}
