//! Cloud access of a run: which image it runs in and the AWS role the worker assumes
//! for it. The role is named by parameters of the run (`iam_role_arn` and its
//! companions), checked here at submission; the worker calls STS just before the
//! sandbox starts and passes the temporary credentials in as secrets.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::params::{ParamKind, ParamSpec, ValidParams};
use super::{FieldError, Problems};
use crate::ExecutionId;

/// The image a module version runs in: the plain runner, or the runner with the cloud
/// scanners installed. An image name never comes from a request: the worker maps each
/// kind to the image it was configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxImage {
    #[default]
    Runner,
    Scanner,
}

impl SandboxImage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Runner => "runner",
            Self::Scanner => "scanner",
        }
    }

    pub(crate) fn parse(raw: Option<&str>, problems: &mut Problems) -> Self {
        match raw {
            None | Some("runner") => Self::Runner,
            Some("scanner") => Self::Scanner,
            Some(_) => {
                problems.add("image", "must be runner or scanner");
                Self::Runner
            }
        }
    }
}

/// Where a run's cloud credentials come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// None: the sandbox gets no cloud identity.
    #[default]
    None,
    /// STS AssumeRole of the role the run names in `iam_role_arn`, with the worker's
    /// own identity; a run without a role gets no credentials.
    AwsAssumeRole,
}

pub const ROLE_ARN: &str = "iam_role_arn";
pub const SESSION_NAME: &str = "iam_session_name";
pub const SESSION_DURATION: &str = "iam_session_duration";
pub const EXTERNAL_ID: &str = "iam_external_id";
/// Local development only: the profile of the worker's AWS config that assumes the
/// role, instead of the worker's own identity (a deployment lists the profiles runs
/// may name; none by default).
pub const PROFILE: &str = "aws_profile";

/// The cloud a tool run scans; only an `aws` run is given AWS credentials.
pub const PROVIDER: &str = "provider";

/// STS's bounds on a session, in seconds; the default is STS's own.
pub const SESSION_SECONDS: std::ops::RangeInclusive<u32> = 900..=43200;
pub const DEFAULT_SESSION_SECONDS: u32 = 3600;
/// How long a run's session may outlast the run's timeout: the time to start the
/// sandbox and to hand the outputs over, no more.
pub const SESSION_MARGIN_SECONDS: u64 = 300;

impl Credentials {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::AwsAssumeRole => "aws_assume_role",
        }
    }

    /// Checks the setting and that the parameters it reads are declared with a kind
    /// that can hold them.
    pub(crate) fn parse(raw: Option<&str>, params: &[ParamSpec], problems: &mut Problems) -> Self {
        let credentials = match raw {
            None | Some("none") => return Self::None,
            Some("aws_assume_role") => Self::AwsAssumeRole,
            Some(_) => {
                problems.add("credentials", "must be none or aws_assume_role");
                return Self::None;
            }
        };
        let kind_of = |name: &str| params.iter().find(|p| p.name == name).map(|p| &p.kind);
        let is_string = |kind: &ParamKind| matches!(kind, ParamKind::String { .. });
        match kind_of(ROLE_ARN) {
            Some(kind) if is_string(kind) => {}
            _ => problems.add(
                "credentials",
                format!("aws_assume_role needs a string parameter {ROLE_ARN}"),
            ),
        }
        let fits = |name: &str, what: &str, ok: fn(&ParamKind) -> bool, problems: &mut Problems| {
            if kind_of(name).is_some_and(|kind| !ok(kind)) {
                problems.add("credentials", format!("{name} must be {what} parameter"));
            }
        };
        fits(
            SESSION_NAME,
            "a string",
            |k| matches!(k, ParamKind::String { .. }),
            problems,
        );
        fits(
            SESSION_DURATION,
            "an integer",
            |k| matches!(k, ParamKind::Integer { .. }),
            problems,
        );
        // The shared secret of a third party's role: never stored or shown in plain.
        fits(
            EXTERNAL_ID,
            "a secret",
            |k| matches!(k, ParamKind::Secret { .. }),
            problems,
        );
        fits(
            PROFILE,
            "a string",
            |k| matches!(k, ParamKind::String { .. }),
            problems,
        );
        credentials
    }

    /// The role a run asks for, its values checked; `None` without credentials or
    /// without a role. Problems name `params.<name>`.
    pub fn assume_role(self, params: &ValidParams) -> Result<Option<AssumeRole>, Vec<FieldError>> {
        if self == Self::None {
            return Ok(None);
        }
        let Some(arn) = params.text(ROLE_ARN) else {
            return Ok(None);
        };
        let mut problems = Problems::default();
        let field = |name: &str| format!("params.{name}");
        // A role's credentials go only to a run that scans AWS: on another cloud's run
        // they would sit beside that cloud's third-party inputs for nothing.
        if let Some(provider) = params.text(PROVIDER).filter(|p| p != "aws") {
            problems.add(
                field(ROLE_ARN),
                format!("is for provider aws only: a {provider} run is given no AWS credentials"),
            );
        }
        let role_arn = RoleArn::parse(&arn);
        if let Err(why) = &role_arn {
            problems.add(field(ROLE_ARN), why);
        }
        let session_name = params.text(SESSION_NAME);
        if let Some(name) = &session_name
            && !is_session_name(name)
        {
            problems.add(
                field(SESSION_NAME),
                "must be 2 to 64 of A-Z, a-z, 0-9 and + = , . @ - _",
            );
        }
        let duration_sec = match params.integer(SESSION_DURATION) {
            None => DEFAULT_SESSION_SECONDS,
            Some(seconds) => match u32::try_from(seconds)
                .ok()
                .filter(|d| SESSION_SECONDS.contains(d))
            {
                Some(seconds) => seconds,
                None => {
                    problems.add(
                        field(SESSION_DURATION),
                        format!(
                            "must be a whole number of seconds from {} to {}",
                            SESSION_SECONDS.start(),
                            SESSION_SECONDS.end()
                        ),
                    );
                    DEFAULT_SESSION_SECONDS
                }
            },
        };
        let external_id = params.secrets().get(EXTERNAL_ID).cloned();
        if let Some(id) = &external_id
            && !is_external_id(id)
        {
            problems.add(
                field(EXTERNAL_ID),
                "must be 2 to 1224 of A-Z, a-z, 0-9 and + = , . @ : / - _",
            );
        }
        let profile = params.text(PROFILE);
        if let Some(name) = &profile
            && !is_profile_name(name)
        {
            problems.add(field(PROFILE), "must be 1 to 64 of A-Z, a-z, 0-9 and . - _");
        }
        let Ok(role_arn) = role_arn else {
            return Err(problems.into_vec());
        };
        problems.finish(Some(AssumeRole {
            role_arn,
            session_name,
            duration_sec,
            external_id,
            profile,
        }))
    }
}

/// An IAM role's ARN, `arn:<partition>:iam::<account>:role/<path/name>`, checked once
/// where it enters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleArn(String);

impl RoleArn {
    pub fn parse(arn: &str) -> Result<Self, &'static str> {
        if is_role_arn(arn) {
            Ok(Self(arn.to_owned()))
        } else {
            Err("must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The role `name` (checked as a role ARN's name part) in `account` (12 digits),
    /// in the `aws` partition.
    pub(crate) fn in_account(account: &str, name: &str) -> Self {
        Self(format!("arn:aws:iam::{account}:role/{name}"))
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for RoleArn {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// `arn:<partition>:iam::<account>:role/<path/name>`, as IAM spells a role ARN.
fn is_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let partition_ok = matches!(
        partition,
        "aws"
            | "aws-cn"
            | "aws-us-gov"
            | "aws-iso"
            | "aws-iso-b"
            | "aws-iso-e"
            | "aws-iso-f"
            | "aws-eusc"
    );
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let role_ok = resource.strip_prefix("role/").is_some_and(|role| {
        (1..=512).contains(&role.len())
            && !role.ends_with('/')
            && role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
    });
    partition_ok && account_ok && role_ok
}

fn is_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c))
}

fn is_profile_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn is_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c))
}

/// The items of a comma-separated setting, blanks around them dropped (as
/// `sage_infra::config::Env::list` reads them; this crate stays free of the
/// environment).
fn comma_separated(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The roles a deployment lets runs assume: role ARNs, each may end in `*` (every role
/// below that prefix, `arn:aws:iam::123456789012:role/Scanners/*`). Empty: any role,
/// which only suits a deployment whose own identity may assume nothing it should not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleAllowlist(Vec<String>);

impl RoleAllowlist {
    /// From a comma-separated list; names the first entry that is no role ARN.
    pub fn parse(list: &str) -> Result<Self, String> {
        let patterns = comma_separated(list);
        for pattern in &patterns {
            let whole = pattern
                .strip_suffix('*')
                .map_or(pattern.clone(), |p| format!("{p}x"));
            if !is_role_arn(&whole) {
                return Err(format!(
                    "{pattern:?} is not a role ARN (arn:aws:iam::<account>:role/<name>, may end in *)"
                ));
            }
        }
        Ok(Self(patterns))
    }

    /// Whether it lists nothing, and so allows any role.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn allows(&self, arn: &RoleArn) -> bool {
        let arn = arn.as_str();
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|pattern| match pattern.strip_suffix('*') {
                    Some(prefix) => arn.starts_with(prefix),
                    None => arn == pattern,
                })
    }
}

/// The AWS config profiles a deployment lets runs name (`aws_profile`), for local
/// development; empty, the default, lets runs name none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileAllowlist(Vec<String>);

impl ProfileAllowlist {
    /// From a comma-separated list; names the first entry that is no profile name.
    pub fn parse(list: &str) -> Result<Self, String> {
        let names = comma_separated(list);
        match names.iter().find(|name| !is_profile_name(name)) {
            Some(bad) => Err(format!(
                "{bad:?} is not a profile name (1 to 64 of A-Z, a-z, 0-9 and . - _)"
            )),
            None => Ok(Self(names)),
        }
    }

    pub fn allows(&self, profile: &str) -> bool {
        self.0.iter().any(|name| name == profile)
    }

    /// Why a run may not name `profile`, for its field error.
    pub fn refusal(&self, profile: &str) -> Option<String> {
        if self.allows(profile) {
            None
        } else if self.0.is_empty() {
            Some("profiles are for local development, and this deployment allows none (AWS_PROFILES_ALLOWED)".to_owned())
        } else {
            Some(format!(
                "must be one of {} (AWS_PROFILES_ALLOWED)",
                self.0.join(", ")
            ))
        }
    }
}

/// One STS AssumeRole call of a run. Its `Debug` leaves the external id out: it is
/// the shared secret of a third-party role.
#[derive(Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: RoleArn,
    session_name: Option<String>,
    pub duration_sec: u32,
    external_id: Option<String>,
    /// The worker's AWS config profile that assumes the role; `None`: the worker's own
    /// identity.
    pub profile: Option<String>,
}

impl AssumeRole {
    /// The worker's own use of a role (an organisation's listing): no external id, the
    /// worker's own identity.
    pub fn of_worker(role_arn: RoleArn, duration_sec: u32) -> Self {
        Self {
            role_arn,
            session_name: None,
            duration_sec,
            external_id: None,
            profile: None,
        }
    }

    /// The session name CloudTrail records: the one asked for, or one that leads back
    /// to the run (`sage-oss-` and the first 8 hex digits of its id).
    pub fn session_name(&self, execution_id: ExecutionId) -> String {
        self.session_name.clone().unwrap_or_else(|| {
            let hex = execution_id.as_uuid().simple().to_string();
            format!("sage-oss-{}", &hex[..8])
        })
    }

    pub fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    /// The session no longer than a run of `timeout_sec` needs, whatever was asked:
    /// credentials that leave with a run's outputs expire soon after it (STS's floor
    /// of 900 s aside).
    pub fn within_run(mut self, timeout_sec: u64) -> Self {
        let cap = timeout_sec.saturating_add(SESSION_MARGIN_SECONDS).clamp(
            u64::from(*SESSION_SECONDS.start()),
            u64::from(*SESSION_SECONDS.end()),
        );
        self.duration_sec = self
            .duration_sec
            .min(u32::try_from(cap).unwrap_or(*SESSION_SECONDS.end()));
        self
    }
}

impl fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("duration_sec", &self.duration_sec)
            .field("external_id", &self.external_id.as_ref().map(|_| "***"))
            .field("profile", &self.profile)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        for good in [
            "arn:aws:iam::123456789012:role/SageScanner",
            "arn:aws-cn:iam::123456789012:role/path/to/Role_1+=,.@-",
        ] {
            assert!(is_role_arn(good), "{good}");
        }
        for bad in [
            "",
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:s3:::bucket",
            "arn:evil:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/x y",
            "arn:aws:iam::123456789012:role/x\n",
        ] {
            assert!(!is_role_arn(bad), "{bad:?}");
        }
    }

    fn arn(text: &str) -> RoleArn {
        RoleArn::parse(text).unwrap()
    }

    #[test]
    fn an_allowlist_names_roles_or_prefixes() {
        let any = RoleAllowlist::parse("").unwrap();
        assert!(any.allows(&arn("arn:aws:iam::123456789012:role/Anything")));
        let list = RoleAllowlist::parse(
            "arn:aws:iam::123456789012:role/SageScanner, arn:aws:iam::210987654321:role/scan/*",
        )
        .unwrap();
        assert!(list.allows(&arn("arn:aws:iam::123456789012:role/SageScanner")));
        assert!(list.allows(&arn("arn:aws:iam::210987654321:role/scan/prod")));
        assert!(!list.allows(&arn("arn:aws:iam::123456789012:role/SageScannerAdmin")));
        assert!(!list.allows(&arn("arn:aws:iam::210987654321:role/admin")));
        assert!(RoleAllowlist::parse("arn:aws:iam::*").is_err());
        assert!(RoleAllowlist::parse("*").is_err());
    }

    #[test]
    fn session_names_and_external_ids() {
        assert!(is_session_name("sage-marketplace"));
        assert!(!is_session_name("a"));
        assert!(!is_session_name("has space"));
        assert!(!is_session_name(&"x".repeat(65)));
        assert!(is_external_id("tenant:42/a"));
        assert!(!is_external_id("x"));
        assert!(!is_external_id("semi;colon"));
    }

    #[test]
    fn profiles_are_refused_unless_the_deployment_lists_them() {
        let none = ProfileAllowlist::default();
        assert!(none.refusal("dev").unwrap().contains("allows none"));
        let some = ProfileAllowlist::parse("dev, sandbox-admin").unwrap();
        assert_eq!(some.refusal("dev"), None);
        assert!(some.refusal("prod").unwrap().contains("dev, sandbox-admin"));
        assert!(ProfileAllowlist::parse("dev,has space").is_err());
        assert!(!is_profile_name(&"p".repeat(65)));
    }

    #[test]
    fn the_default_session_name_leads_back_to_the_run() {
        let id: ExecutionId = "0123abcd-0000-4000-8000-000000000000".parse().unwrap();
        let role = AssumeRole {
            role_arn: RoleArn::parse("arn:aws:iam::123456789012:role/r").unwrap(),
            session_name: None,
            duration_sec: 3600,
            external_id: Some("secret-id".into()),
            profile: None,
        };
        assert_eq!(role.session_name(id), "sage-oss-0123abcd");
        assert!(!format!("{role:?}").contains("secret-id"));
    }

    #[test]
    fn a_session_lasts_no_longer_than_its_run_needs() {
        let role = |duration_sec| AssumeRole {
            role_arn: RoleArn::parse("arn:aws:iam::123456789012:role/r").unwrap(),
            session_name: None,
            duration_sec,
            external_id: None,
            profile: None,
        };
        assert_eq!(role(43200).within_run(3600).duration_sec, 3900);
        assert_eq!(role(1800).within_run(3600).duration_sec, 1800);
        // STS's floor: a 60 s run still gets 15 minutes.
        assert_eq!(role(43200).within_run(60).duration_sec, 900);
        assert_eq!(role(43200).within_run(u64::MAX).duration_sec, 43200);
    }
}
