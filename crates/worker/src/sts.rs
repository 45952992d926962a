//! STS AssumeRole for runs that name an AWS role, with the worker's own identity (the
//! default AWS credential chain: environment, web identity (IRSA), container or
//! instance role). The temporary credentials live only in the worker's memory and in
//! the sandbox's environment; they are redacted from the run's log.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_sts::config::Region;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
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
    /// Where its identity comes from, in words (see [`identity_source`]).
    pub identity: String,
    /// The AWS config and credentials files the profiles runs name come from (local
    /// development; the SDK's defaults, `~/.aws/config` and `~/.aws/credentials`,
    /// when unset).
    pub profile_files: ProfileFilePaths,
}

/// Where the worker's own identity for STS comes from, as far as its environment
/// tells: said once at start, so a worker that would ask the instance's metadata (or
/// has no identity at all) is seen before its first run fails.
pub fn identity_source(env: &sage_infra::config::Env, own_keys: bool) -> String {
    let set = |name: &str| env.raw(name).is_some();
    if own_keys {
        "the worker's settings (STS_ACCESS_KEY_ID)".to_owned()
    } else if set("AWS_WEB_IDENTITY_TOKEN_FILE") {
        "web identity (AWS_WEB_IDENTITY_TOKEN_FILE, as IRSA sets it)".to_owned()
    } else if set("AWS_ACCESS_KEY_ID") {
        "the environment (AWS_ACCESS_KEY_ID)".to_owned()
    } else if set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    {
        "the container's credentials endpoint".to_owned()
    } else if let Some(profile) = env.raw("AWS_PROFILE") {
        format!("the AWS profile {profile}")
    } else if env.raw("AWS_EC2_METADATA_DISABLED") == Some("true") {
        "none: no keys, no web identity, and instance metadata disabled (a run that names a role fails)".to_owned()
    } else {
        "the instance's metadata (IMDS), the default chain's last resort".to_owned()
    }
}

/// `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`, as the worker's settings read
/// them.
#[derive(Debug, Clone, Default)]
pub struct ProfileFilePaths {
    pub config: Option<String>,
    pub credentials: Option<String>,
}

#[derive(Clone)]
pub struct Sts {
    client: aws_sdk_sts::Client,
    settings: StsSettings,
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

    /// The SDK's settings for calls made as these credentials, to the same endpoint
    /// and region as STS (the worker's own calls: an organisation's listing).
    pub async fn config(&self, settings: &StsSettings) -> aws_config::SdkConfig {
        loader(settings)
            .credentials_provider(aws_credential_types::Credentials::new(
                self.access_key_id.expose_secret(),
                self.secret_access_key.expose_secret(),
                Some(self.session_token.expose_secret().to_owned()),
                None,
                "sage-assumed",
            ))
            .load()
            .await
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

/// The SDK's settings every client here shares: region, endpoint, timeouts.
fn loader(settings: &StsSettings) -> aws_config::ConfigLoader {
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
    loader
}

impl Sts {
    pub async fn new(settings: &StsSettings) -> Self {
        let mut loader = loader(settings);
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
            settings: settings.clone(),
        }
    }

    /// A client whose identity is a profile of the worker's AWS config files, and
    /// nothing else: a profile that is not there fails the call instead of falling
    /// back to another identity (the instance's metadata least of all).
    async fn client_as(&self, profile: &str) -> aws_sdk_sts::Client {
        let mut files = EnvConfigFiles::builder();
        let paths = &self.settings.profile_files;
        files = match &paths.config {
            Some(path) => files.with_file(EnvConfigFileKind::Config, path),
            None => files.include_default_config_file(true),
        };
        files = match &paths.credentials {
            Some(path) => files.with_file(EnvConfigFileKind::Credentials, path),
            None => files.include_default_credentials_file(true),
        };
        let identity = ProfileFileCredentialsProvider::builder()
            .profile_files(files.build())
            .profile_name(profile)
            .build();
        let config = loader(&self.settings)
            .credentials_provider(identity)
            .load()
            .await;
        aws_sdk_sts::Client::new(&config)
    }

    /// Assumes the run's role. The error is fit for the run's log: STS's code and
    /// message, with every ARN but the role's own replaced (STS names the caller, which
    /// is the worker's identity, not the user's business), or why STS was not reached.
    /// The whole error goes to the worker's own log.
    pub fn settings(&self) -> &StsSettings {
        &self.settings
    }

    pub async fn assume(
        &self,
        role: &AssumeRole,
        session_name: &str,
    ) -> Result<TemporaryCredentials, String> {
        let client = match &role.profile {
            Some(profile) => Box::pin(self.client_as(profile)).await,
            None => self.client.clone(),
        };
        let answer = client
            .assume_role()
            .role_arn(role.role_arn.as_str())
            .role_session_name(session_name)
            .duration_seconds(i32::try_from(role.duration_sec).unwrap_or(i32::MAX))
            .set_external_id(role.external_id().map(str::to_owned))
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(role_arn = %role.role_arn, error = %DisplayErrorContext(&error), "AssumeRole failed");
                refusal(&error, role.role_arn.as_str())
            })?;
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

/// Why AssumeRole failed, in words for the run's log.
fn refusal<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>, role_arn: &str) -> String {
    match error {
        SdkError::ServiceError(service) => {
            let answer = service.err();
            let code = answer.code().unwrap_or("an unnamed error");
            match answer.message() {
                Some(message) => format!(
                    "STS refused ({code}): {}",
                    without_identity(message, role_arn)
                ),
                None => format!("STS refused ({code})"),
            }
        }
        SdkError::TimeoutError(_) => "STS did not answer in time".to_owned(),
        SdkError::DispatchFailure(_) => "STS could not be reached".to_owned(),
        _ => "STS's answer could not be read".to_owned(),
    }
}

/// `message` with each ARN other than `role_arn` replaced, and each other 12-digit
/// account number: STS's refusals name the caller (`User: arn:aws:sts::…:assumed-role/
/// worker/…`), sometimes only its account (`…for account:123456789012.`).
fn without_identity(message: &str, role_arn: &str) -> String {
    let mut shown = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("arn:") {
        shown.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"'()[]<>".contains(c))
            .unwrap_or(tail.len());
        let arn = tail[..end].trim_end_matches(['.', ',', ';', ':']);
        shown.push_str(if arn == role_arn {
            arn
        } else {
            "(the worker's identity)"
        });
        rest = &tail[arn.len()..];
    }
    shown.push_str(rest);
    let role_account = role_arn.split(':').nth(4).unwrap_or_default();
    without_accounts(&shown, role_account)
}

/// `text` with every run of exactly 12 digits but `keep` replaced.
fn without_accounts(text: &str, keep: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, shown: &mut String| {
        if digits.len() == 12 && digits.as_str() != keep {
            shown.push_str("(an account)");
        } else {
            shown.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut shown);
            shown.push(c);
        }
    }
    flush(&mut digits, &mut shown);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_role_but_not_the_worker() {
        let role = "arn:aws:iam::210987654321:role/SageScanner";
        let message = format!(
            "User: arn:aws:sts::123456789012:assumed-role/sage-worker/i-0abc is not authorized to perform: sts:AssumeRole on resource: {role}."
        );
        let shown = without_identity(&message, role);
        assert_eq!(
            shown,
            format!(
                "User: (the worker's identity) is not authorized to perform: sts:AssumeRole on resource: {role}."
            )
        );
        assert!(!shown.contains("123456789012"));
        for message in [
            "User:arn:aws:sts::123456789012:assumed-role/w/i-1 is not authorized",
            "Access denied for (\"arn:aws:iam::123456789012:user/worker\")",
            "first line\narn:aws:sts::123456789012:assumed-role/w/x denied",
            "STS is not activated in this region for account:123456789012.",
        ] {
            let shown = without_identity(message, role);
            assert!(!shown.contains("123456789012"), "{shown}");
        }
    }
}
