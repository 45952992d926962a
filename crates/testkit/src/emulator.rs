//! The local AWS emulator of dev/emulator.sh, as the worker and the sandboxes see it.

use sage_infra::config::Env;

/// moto's only account, and a role in it (moto assumes any).
pub const ACCOUNT: &str = "123456789012";
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/SageScanner";

/// The worker's emulator settings, as `just up` gives them (dev/emulator.env).
fn settings() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../dev/emulator.env");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// moto as the host reaches it.
pub fn url() -> String {
    settings()
        .into_iter()
        .find(|(k, _)| k == "STS_ENDPOINT_URL")
        .map(|(_, v)| v)
        .unwrap()
}

/// Points a worker at the emulator: its STS for AssumeRole, its network for egress
/// runs, its address for the sandboxes' AWS SDKs.
pub fn use_it(env: &mut Env) {
    for (key, value) in settings() {
        env.set(&key, value);
    }
}

/// An S3 client of the emulator, to seed it.
pub async fn s3() -> aws_sdk_s3::Client {
    sage_infra::s3::S3Settings {
        endpoint: Some(url()),
        region: "us-east-1".to_owned(),
        bucket: "unused".to_owned(),
        credentials: Some(("seed".to_owned(), "seed-secret".to_owned().into())),
        force_path_style: true,
    }
    .client()
    .await
}

/// Two buckets named after `tag` in the emulator: `sage-<tag>-plain`, unencrypted, and
/// `sage-<tag>-sealed`, encrypted; their names.
pub async fn seed_buckets(tag: &str) -> (String, String) {
    let s3 = s3().await;
    let (plain, sealed) = (format!("sage-{tag}-plain"), format!("sage-{tag}-sealed"));
    for bucket in [&plain, &sealed] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    encrypt(&s3, &sealed).await;
    (plain, sealed)
}

/// Gives `bucket` default encryption (AES-256), as a fix of an unencrypted bucket.
pub async fn encrypt(s3: &aws_sdk_s3::Client, bucket: &str) {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .unwrap(),
        )
        .build();
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .unwrap();
}

/// The SDK's settings for the emulator, as `credentials` (the seeding keys, which
/// moto takes as its default account, when `None`).
async fn config(credentials: Option<aws_sdk_sts::types::Credentials>) -> aws_config::SdkConfig {
    let identity = match credentials {
        Some(c) => aws_credential_types::Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            None,
            "assumed",
        ),
        None => aws_credential_types::Credentials::new("seed", "seed-secret", None, None, "seed"),
    };
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url())
        .credentials_provider(identity)
        .load()
        .await
}

/// The SDK's settings acting in `account`, through a role assumed there (moto assumes
/// any role and keeps each account apart).
async fn config_in(account: &str) -> aws_config::SdkConfig {
    let sts = aws_sdk_sts::Client::new(&config(None).await);
    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/Seeder"))
        .role_session_name("seed")
        .send()
        .await
        .unwrap();
    config(assumed.credentials).await
}

/// A fresh account id of its own for each caller, so tests sharing the emulator do not
/// meet (moto keeps each account apart).
pub fn fresh_account() -> String {
    let digits = uuid::Uuid::new_v4().as_u128() % 100_000_000_000;
    format!("9{digits:011}")
}

/// An organisation of its own in the emulator: a fresh management account and
/// `members` accounts created in it. Returns the management account's id and every
/// account's id (the management account's first).
pub async fn organization(members: usize) -> (String, Vec<String>) {
    let management = fresh_account();
    let org = aws_sdk_organizations::Client::new(&config_in(&management).await);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let mut ids = vec![management.clone()];
    for n in 0..members {
        let created = org
            .create_account()
            .account_name(format!("member-{n}"))
            .email(format!("member-{n}@example.com"))
            .send()
            .await
            .unwrap();
        ids.push(
            created
                .create_account_status
                .and_then(|s| s.account_id)
                .unwrap(),
        );
    }
    (management, ids)
}

/// An S3 client of the emulator acting in `account` (through a role assumed there), to
/// seed buckets that are that account's.
pub async fn s3_in(account: &str) -> aws_sdk_s3::Client {
    let shared = config_in(account).await;
    let conf = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
