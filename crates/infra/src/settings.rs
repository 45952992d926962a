//! Settings every Sage process shares: where RabbitMQ, Redis and S3 are, and how to
//! log. PostgreSQL's settings belong to `sage-store`, which builds the pool.

use std::path::PathBuf;
use std::time::Duration;

use crate::amqp::AmqpSettings;
use crate::config::Env;
use crate::redis::RedisSettings;
use crate::s3::S3Settings;
use crate::secrets::SecretBox;
use crate::telemetry::LogSettings;

#[derive(Debug, Clone)]
pub struct CommonSettings {
    pub amqp: AmqpSettings,
    pub redis: RedisSettings,
    pub s3: S3Settings,
    pub log: LogSettings,
    /// How long running work may take to finish after a stop signal.
    pub shutdown_grace: Duration,
    /// The script library: the api pins registered files, the worker copies them out.
    pub scripts_dir: PathBuf,
    /// Seals (api) and opens (worker) secret run parameters.
    pub secrets: SecretBox,
    /// The AWS roles runs may ask the worker to assume (the api refuses others at
    /// submission, the worker again before it calls STS).
    pub assume_roles: sage_model::catalog::cloud::RoleAllowlist,
    /// The worker's AWS config profiles runs may name to assume their role with
    /// (local development; none by default).
    pub aws_profiles: sage_model::catalog::cloud::ProfileAllowlist,
}

impl CommonSettings {
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let amqp = AmqpSettings::from_env(env);
        let redis = RedisSettings::from_env(env);
        let s3 = S3Settings::from_env(env);
        let log = LogSettings::from_env(env);
        let shutdown_grace = env.seconds("SHUTDOWN_GRACE_SEC", 30, 1, 3600);
        let scripts_dir = env.optional_with("SCRIPTS_DIR", PathBuf::from("scripts"), |v| {
            Ok(PathBuf::from(v))
        });
        let secrets = SecretBox::from_env(env);
        let assume_roles = env.optional_with(
            "ASSUME_ROLE_ALLOWED",
            sage_model::catalog::cloud::RoleAllowlist::default(),
            sage_model::catalog::cloud::RoleAllowlist::parse,
        );
        // With real users signing in, "any role the worker may assume" is never a
        // default: the deployment names the roles (api and worker share AUTH_MODE).
        if env.raw("AUTH_MODE") == Some("oidc")
            && assume_roles
                .as_ref()
                .is_some_and(sage_model::catalog::cloud::RoleAllowlist::is_empty)
        {
            env.refuse(
                "ASSUME_ROLE_ALLOWED",
                "must list the roles runs may assume when AUTH_MODE=oidc (empty lets runs assume any role the worker's identity may)",
            );
        }
        let aws_profiles = env.optional_with(
            "AWS_PROFILES_ALLOWED",
            sage_model::catalog::cloud::ProfileAllowlist::default(),
            sage_model::catalog::cloud::ProfileAllowlist::parse,
        );
        Some(Self {
            amqp: amqp?,
            redis: redis?,
            s3: s3?,
            log: log?,
            shutdown_grace: shutdown_grace?,
            scripts_dir: scripts_dir?,
            assume_roles: assume_roles?,
            aws_profiles: aws_profiles?,
            secrets: secrets?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 32 bytes, base64: a valid SECRETS_KEY.
    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn every_bad_value_is_named() {
        let mut env = Env::from_pairs([
            ("AMQP_URL", "http://rabbit"),
            ("REDIS_URL", "redis://127.0.0.1"),
            ("S3_BUCKET", "Not_A_Bucket"),
            ("S3_ACCESS_KEY_ID", "id"),
            ("LOG_FORMAT", "xml"),
            ("SECRETS_KEY", KEY),
        ]);
        assert!(CommonSettings::from_env(&mut env).is_none());
        let names: Vec<String> = env
            .finish()
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| p.variable)
            .collect();
        assert_eq!(
            names,
            [
                "AMQP_URL",
                "S3_BUCKET",
                "S3_SECRET_ACCESS_KEY",
                "LOG_FORMAT"
            ]
        );
    }

    #[test]
    fn with_real_users_the_roles_runs_may_assume_are_named() {
        let pairs = |roles: &'static str| {
            [
                ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
                ("REDIS_URL", "redis://127.0.0.1:6379/0"),
                ("S3_BUCKET", "sage-artifacts"),
                ("SECRETS_KEY", KEY),
                ("AUTH_MODE", "oidc"),
                ("ASSUME_ROLE_ALLOWED", roles),
            ]
        };
        let mut env = Env::from_pairs(pairs(""));
        CommonSettings::from_env(&mut env);
        let problems = env.finish().unwrap_err().problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].variable, "ASSUME_ROLE_ALLOWED");
        let mut env = Env::from_pairs(pairs("arn:aws:iam::123456789012:role/scan/*"));
        assert!(CommonSettings::from_env(&mut env).is_some());
        env.finish().unwrap();
    }

    #[test]
    fn a_complete_environment_is_accepted() {
        let mut env = Env::from_pairs([
            ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("S3_BUCKET", "sage-artifacts"),
            ("SECRETS_KEY", KEY),
        ]);
        let settings = CommonSettings::from_env(&mut env).unwrap();
        env.finish().unwrap();
        assert_eq!(settings.amqp.queue_prefix, "sage");
        assert!(settings.s3.credentials.is_none());
    }
}
