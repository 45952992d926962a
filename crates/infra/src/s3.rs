//! S3 (or any S3-compatible server): the artifact store.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Env, url_with_scheme};
use crate::error_text;

#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Empty for AWS itself; the URL of a compatible server otherwise.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Static keys; without them the default AWS credential chain applies (IRSA, etc.).
    pub credentials: Option<(String, SecretString)>,
    pub force_path_style: bool,
}

impl S3Settings {
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let endpoint = match env.raw("S3_ENDPOINT").map(str::to_owned) {
            None => Some(None),
            Some(v) => match url_with_scheme(&v, &["http", "https"]) {
                Ok(url) => Some(Some(url)),
                Err(message) => {
                    env.refuse("S3_ENDPOINT", message);
                    None
                }
            },
        };
        let region = env.string("S3_REGION", "us-east-1");
        let bucket = env.required_with("S3_BUCKET", |v| {
            let ok = (3..=63).contains(&v.len())
                && v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if ok {
                Ok(v.to_owned())
            } else {
                Err("must be a bucket name: 3 to 63 of a-z, 0-9, '-', '.'".to_owned())
            }
        });
        let credentials = env.key_pair("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY");
        let force_path_style = env.flag("S3_FORCE_PATH_STYLE", true);
        Some(Self {
            endpoint: endpoint?,
            region: region?,
            bucket: bucket?,
            credentials: credentials?,
            force_path_style: force_path_style?,
        })
    }

    pub async fn client(&self) -> Client {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(30))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .timeout_config(timeouts);
        if let Some((id, secret)) = &self.credentials {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret.expose_secret(),
                None,
                None,
                "sage-settings",
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(self.force_path_style)
            .build();
        Client::from_conf(config)
    }
}

/// Creates the bucket when it does not exist yet (local stacks); on AWS it exists.
pub async fn ensure_bucket(client: &Client, bucket: &str) -> Result<(), String> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map(|_| tracing::info!(bucket, "created the artifact bucket"))
        .map_err(|e| format!("cannot create bucket {bucket}: {}", error_text(&e)))
}

/// Readiness: the bucket answers.
pub async fn check(client: &Client, bucket: &str) -> Result<(), String> {
    crate::probe(async { client.head_bucket().bucket(bucket).send().await.map(|_| ()) }).await
}
