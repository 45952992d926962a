//! The organisation's cloud accounts: what an admin may say of one (checked once
//! here), the role a run assumes in it, and how a scan picks accounts and turns each
//! into a run's parameters.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::FieldError;
use crate::catalog::cloud::RoleArn;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(id: &str) -> Result<Self, &'static str> {
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(id.to_owned()))
        } else {
            Err("must be a 12-digit AWS account id")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = &'static str;
    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::parse(&id)
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> Self {
        id.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The role a run assumes in an account: a role's name (with its path), which every
/// account of an organisation usually shares, or a whole ARN in that account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRole {
    Name(String),
    Arn(RoleArn),
}

/// The role AWS Organizations creates in each account it makes.
pub const ORGANIZATIONS_ROLE: &str = "OrganizationAccountAccessRole";

impl AccountRole {
    /// A name (`SecurityAudit`, `audit/SageReader`) or an ARN in `account`.
    pub fn parse(role: &str, account: &AccountId) -> Result<Self, String> {
        if role.starts_with("arn:") {
            let arn = RoleArn::parse(role).map_err(str::to_owned)?;
            let in_account = arn.as_str().split(':').nth(4) == Some(account.as_str());
            if !in_account {
                return Err(format!("must be a role in account {account}"));
            }
            return Ok(Self::Arn(arn));
        }
        Self::name(role)
    }

    /// A role's name (with its path), the same in every account.
    pub fn name(role: &str) -> Result<Self, String> {
        let valid = (1..=512).contains(&role.len())
            && !role.starts_with('/')
            && !role.ends_with('/')
            && role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
        if valid {
            Ok(Self::Name(role.to_owned()))
        } else {
            Err(
                "must be a role's name (letters, digits and +=,.@_-, a path with /) or its ARN"
                    .to_owned(),
            )
        }
    }

    /// The role's ARN in `account` (a name expands in the `aws` partition).
    pub fn arn_in(&self, account: &AccountId) -> RoleArn {
        match self {
            Self::Arn(arn) => arn.clone(),
            Self::Name(name) => RoleArn::in_account(account.as_str(), name),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Name(name) => name,
            Self::Arn(arn) => arn.as_str(),
        }
    }
}

/// An AWS region's name as runs pass it (`ap-northeast-2`).
pub fn is_region(region: &str) -> bool {
    let mut parts = region.split('-');
    let (Some(area), Some(place), Some(number)) = (parts.next(), parts.next(), parts.next_back())
    else {
        return false;
    };
    (2..=3).contains(&area.len())
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && !place.is_empty()
        && place.bytes().all(|b| b.is_ascii_lowercase())
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && region.len() <= 32
}

/// Tags: at most 50, keys 1 to 128 characters, values up to 256, as AWS allows.
pub type Tags = BTreeMap<String, String>;

const MAX_TAGS: usize = 50;
const MAX_REGIONS: usize = 32;
const MAX_NAME: usize = 128;

/// An account as an admin writes it (`POST /api/v1/accounts`, `PUT …/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AccountRequest {
    pub id: Option<String>,
    pub name: Option<String>,
    /// The role's name or ARN; `OrganizationAccountAccessRole` when absent.
    pub role: Option<String>,
    /// A secret: stored sealed, never shown.
    pub external_id: Option<String>,
    pub regions: Vec<String>,
    pub tags: Tags,
}

/// An account that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub id: AccountId,
    pub name: String,
    pub role: AccountRole,
    pub external_id: Option<String>,
    pub regions: Vec<String>,
    pub tags: Tags,
}

impl AccountRequest {
    /// Checks every field, naming each that does not hold. `id` is the path's on an
    /// edit (the body's, if any, must agree).
    pub fn check(self, path_id: Option<&AccountId>) -> Result<NewAccount, Vec<FieldError>> {
        let mut problems = Vec::new();
        let id = match (path_id, self.id.as_deref()) {
            (Some(path), Some(body)) if body != path.as_str() => {
                problems.push(FieldError::new(
                    "id",
                    "cannot change: it is the account's own",
                ));
                Some(path.clone())
            }
            (Some(path), _) => Some(path.clone()),
            (None, Some(body)) => AccountId::parse(body)
                .map_err(|why| problems.push(FieldError::new("id", why)))
                .ok(),
            (None, None) => {
                problems.push(FieldError::new(
                    "id",
                    "is required: the 12-digit account id",
                ));
                None
            }
        };
        let name = self.name.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            problems.push(FieldError::new(
                "name",
                format!("is required: 1 to {MAX_NAME} characters"),
            ));
        }
        let role = id.as_ref().and_then(|id| {
            AccountRole::parse(self.role.as_deref().unwrap_or(ORGANIZATIONS_ROLE), id)
                .map_err(|why| problems.push(FieldError::new("role", why)))
                .ok()
        });
        if let Some(external_id) = &self.external_id {
            let valid = (2..=1224).contains(&external_id.len())
                && external_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
            if !valid {
                problems.push(FieldError::new(
                    "external_id",
                    "must be 2 to 1224 of letters, digits and +=,.@:/-_",
                ));
            }
        }
        let regions = regions(self.regions, "regions", &mut problems);
        tags(&self.tags, "tags", &mut problems);
        match (problems.is_empty(), id, role) {
            (true, Some(id), Some(role)) => Ok(NewAccount {
                id,
                name: name.to_owned(),
                role,
                external_id: self.external_id,
                regions,
                tags: self.tags,
            }),
            _ => Err(problems),
        }
    }
}

/// Regions kept once each, in order, each checked.
pub fn regions(names: Vec<String>, field: &str, problems: &mut Vec<FieldError>) -> Vec<String> {
    if names.len() > MAX_REGIONS {
        problems.push(FieldError::new(
            field,
            format!("names at most {MAX_REGIONS}"),
        ));
    }
    let mut kept: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !is_region(&name) {
            problems.push(FieldError::new(
                field,
                format!("{name:?} is not a region's name (ap-northeast-2)"),
            ));
        } else if !kept.contains(&name) {
            kept.push(name);
        }
    }
    kept
}

fn tags(tags: &Tags, field: &str, problems: &mut Vec<FieldError>) {
    if tags.len() > MAX_TAGS {
        problems.push(FieldError::new(field, format!("holds at most {MAX_TAGS}")));
    }
    for (key, value) in tags {
        let key_ok = (1..=128).contains(&key.chars().count()) && !key.chars().any(char::is_control);
        if !key_ok || value.chars().count() > 256 || value.chars().any(char::is_control) {
            problems.push(FieldError::new(
                format!("{field}.{key}"),
                "keys are 1 to 128 characters and values at most 256, without control characters",
            ));
        }
    }
}

/// Which accounts a scan covers: these ids, or every account holding all these tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSelection {
    Ids(Vec<AccountId>),
    Tags(Tags),
}

/// The tool parameters an account decides: a scan's own `params` may not name them.
pub const ACCOUNT_PARAMS: [&str; 3] = ["iam_role_arn", "iam_external_id", "region"];

/// A scan as its creator asks for it (`POST /api/v1/scans`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanRequest {
    pub tool: Option<String>,
    pub account_ids: Option<Vec<String>>,
    pub account_tags: Option<Tags>,
    /// Replaces each account's own regions.
    pub regions: Option<Vec<String>>,
    pub params: Map<String, Value>,
    /// How many of its runs may be queued or running at once.
    pub max_concurrency: Option<u32>,
    /// One run per account and region, rather than per account with its regions.
    pub per_region: Option<bool>,
    /// How many of its runs may run against one account at once (default 1).
    pub account_concurrency: Option<u32>,
}

/// The most runs a scan lets be in flight at once, unless it says fewer.
pub const SCAN_CONCURRENCY: u32 = 10;
/// The most accounts one scan covers.
pub const MAX_SCAN_ACCOUNTS: usize = 5000;

/// A scan that passed every check but the accounts it selects (the store knows them)
/// and the tool's own parameters (its module's schema checks them per run).
#[derive(Debug, Clone, PartialEq)]
pub struct NewScan {
    pub tool: crate::tools::Tool,
    pub selection: AccountSelection,
    pub regions: Option<Vec<String>>,
    pub params: Map<String, Value>,
    pub max_concurrency: u32,
    pub per_region: bool,
    pub account_concurrency: u32,
}

impl ScanRequest {
    pub fn check(self) -> Result<NewScan, Vec<FieldError>> {
        let mut problems = Vec::new();
        let tool = match self.tool.as_deref().map(str::parse::<crate::tools::Tool>) {
            Some(Ok(tool)) => Some(tool),
            Some(Err(why)) => {
                problems.push(FieldError::new("tool", why));
                None
            }
            None => {
                problems.push(FieldError::new("tool", "is required"));
                None
            }
        };
        let selection = match (self.account_ids, self.account_tags) {
            (Some(ids), None) => {
                if ids.is_empty() || ids.len() > MAX_SCAN_ACCOUNTS {
                    problems.push(FieldError::new(
                        "account_ids",
                        format!("must name 1 to {MAX_SCAN_ACCOUNTS} accounts"),
                    ));
                }
                let mut kept: Vec<AccountId> = Vec::with_capacity(ids.len());
                for id in &ids {
                    match AccountId::parse(id) {
                        Ok(id) if !kept.contains(&id) => kept.push(id),
                        Ok(_) => {}
                        Err(why) => {
                            problems.push(FieldError::new("account_ids", format!("{id:?} {why}")));
                        }
                    }
                }
                Some(AccountSelection::Ids(kept))
            }
            (None, Some(tags_wanted)) => {
                if tags_wanted.is_empty() {
                    problems.push(FieldError::new(
                        "account_tags",
                        "must name at least one tag (key and value)",
                    ));
                }
                tags(&tags_wanted, "account_tags", &mut problems);
                Some(AccountSelection::Tags(tags_wanted))
            }
            (Some(_), Some(_)) => {
                problems.push(FieldError::new(
                    "account_tags",
                    "give account_ids or account_tags, not both",
                ));
                None
            }
            (None, None) => {
                problems.push(FieldError::new(
                    "account_ids",
                    "or account_tags is required: which accounts to scan",
                ));
                None
            }
        };
        let regions = self
            .regions
            .map(|names| regions(names, "regions", &mut problems));
        if regions.as_ref().is_some_and(Vec::is_empty) {
            problems.push(FieldError::new("regions", "must name at least one region"));
        }
        for name in ACCOUNT_PARAMS {
            if self.params.contains_key(name) {
                problems.push(FieldError::new(
                    format!("params.{name}"),
                    "comes from each account (its role, external id and regions)",
                ));
            }
        }
        if self
            .params
            .get("provider")
            .is_some_and(|p| p.as_str() != Some("aws"))
        {
            problems.push(FieldError::new(
                "params.provider",
                "must be aws: accounts are AWS accounts",
            ));
        }
        let max_concurrency = self.max_concurrency.unwrap_or(SCAN_CONCURRENCY);
        if !(1..=1000).contains(&max_concurrency) {
            problems.push(FieldError::new("max_concurrency", "must be 1 to 1000"));
        }
        let account_concurrency = self.account_concurrency.unwrap_or(1);
        if !(1..=100).contains(&account_concurrency) {
            problems.push(FieldError::new(
                "account_concurrency",
                "must be 1 to 100: runs of the scan against one account at once",
            ));
        }
        match (problems.is_empty(), tool, selection) {
            (true, Some(tool), Some(selection)) => Ok(NewScan {
                tool,
                selection,
                regions,
                params: self.params,
                max_concurrency,
                per_region: self.per_region.unwrap_or(false),
                account_concurrency,
            }),
            _ => Err(problems),
        }
    }
}

/// One account as a scan reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanAccount {
    pub id: AccountId,
    pub role: AccountRole,
    pub external_id: Option<String>,
    pub regions: Vec<String>,
}

impl NewScan {
    /// The parameters of the run over `account`: the scan's own, then the account's
    /// role, external id and regions (the scan's regions, when it names any). `None`
    /// when neither names a region: the run would not know where to look.
    pub fn run_params(&self, account: &ScanAccount) -> Option<Map<String, Value>> {
        let regions = self.regions.as_ref().unwrap_or(&account.regions);
        if regions.is_empty() {
            return None;
        }
        Some(self.params_in(account, &regions.join(",")))
    }

    /// The runs over `account`, each with the region it covers when the scan asks for
    /// one run per region (else `None`: the run covers all of them). Empty when neither
    /// the scan nor the account names a region.
    pub fn runs(&self, account: &ScanAccount) -> Vec<(Option<String>, Map<String, Value>)> {
        let regions = self.regions.as_ref().unwrap_or(&account.regions);
        if self.per_region {
            regions
                .iter()
                .map(|region| (Some(region.clone()), self.params_in(account, region)))
                .collect()
        } else {
            self.run_params(account)
                .map(|params| vec![(None, params)])
                .unwrap_or_default()
        }
    }

    fn params_in(&self, account: &ScanAccount, regions: &str) -> Map<String, Value> {
        let mut params = self.params.clone();
        params.insert("provider".to_owned(), Value::from("aws"));
        params.insert(
            "iam_role_arn".to_owned(),
            Value::from(account.role.arn_in(&account.id).as_str()),
        );
        if let Some(external_id) = &account.external_id {
            params.insert(
                "iam_external_id".to_owned(),
                Value::from(external_id.as_str()),
            );
        }
        params.insert("region".to_owned(), Value::from(regions));
        params
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn account(id: &str) -> AccountId {
        AccountId::parse(id).unwrap()
    }

    #[test]
    fn a_role_name_expands_in_each_account_and_an_arn_must_be_its_own() {
        let a = account("111122223333");
        let role = AccountRole::parse("audit/SageReader", &a).unwrap();
        assert_eq!(
            role.arn_in(&a).as_str(),
            "arn:aws:iam::111122223333:role/audit/SageReader"
        );
        let arn = "arn:aws:iam::111122223333:role/Reader";
        assert_eq!(
            AccountRole::parse(arn, &a).unwrap().arn_in(&a).as_str(),
            arn
        );
        let elsewhere = AccountRole::parse(arn, &account("444455556666")).unwrap_err();
        assert!(elsewhere.contains("444455556666"), "{elsewhere}");
        for bad in ["", "/Reader", "Reader/", "Read er", "arn:aws:iam::1:role/x"] {
            assert!(AccountRole::parse(bad, &a).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_account_names_each_field_that_does_not_hold() {
        let request = AccountRequest {
            id: Some("12345".to_owned()),
            name: Some(" ".to_owned()),
            external_id: Some("x".to_owned()),
            regions: vec!["us-east-1".to_owned(), "Mars".to_owned()],
            tags: [("".to_owned(), "v".to_owned())].into(),
            ..AccountRequest::default()
        };
        let fields: Vec<String> = request
            .check(None)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["id", "name", "external_id", "regions", "tags."]);

        let good = AccountRequest {
            id: Some("111122223333".to_owned()),
            name: Some("prod".to_owned()),
            regions: vec!["ap-northeast-2".to_owned(), "ap-northeast-2".to_owned()],
            tags: [("env".to_owned(), "prod".to_owned())].into(),
            ..AccountRequest::default()
        }
        .check(None)
        .unwrap();
        assert_eq!(good.role, AccountRole::Name(ORGANIZATIONS_ROLE.to_owned()));
        assert_eq!(good.regions, ["ap-northeast-2"]);

        let moved = AccountRequest {
            id: Some("999999999999".to_owned()),
            name: Some("prod".to_owned()),
            ..AccountRequest::default()
        };
        let problems = moved.check(Some(&account("111122223333"))).unwrap_err();
        assert_eq!(problems[0].field, "id");
    }

    #[test]
    fn a_scan_takes_ids_or_tags_and_leaves_roles_and_regions_to_the_accounts() {
        let bad = ScanRequest {
            tool: Some("nmap".to_owned()),
            account_ids: Some(vec!["1".to_owned()]),
            account_tags: Some([("env".to_owned(), "prod".to_owned())].into()),
            regions: Some(vec![]),
            params: json!({"iam_role_arn": "x", "provider": "gcp"})
                .as_object()
                .unwrap()
                .clone(),
            max_concurrency: Some(0),
            per_region: None,
            account_concurrency: Some(0),
        };
        let fields: Vec<String> = bad
            .check()
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            [
                "tool",
                "account_tags",
                "regions",
                "params.iam_role_arn",
                "params.provider",
                "max_concurrency",
                "account_concurrency"
            ]
        );

        let scan = ScanRequest {
            tool: Some("custodian".to_owned()),
            account_tags: Some([("env".to_owned(), "prod".to_owned())].into()),
            params: json!({"policy": "p"}).as_object().unwrap().clone(),
            ..ScanRequest::default()
        }
        .check()
        .unwrap();
        let a = ScanAccount {
            id: account("111122223333"),
            role: AccountRole::Name("Reader".to_owned()),
            external_id: Some("ext-1".to_owned()),
            regions: vec!["us-east-1".to_owned(), "eu-west-1".to_owned()],
        };
        assert_eq!(
            Value::Object(scan.run_params(&a).unwrap()),
            json!({"policy": "p", "provider": "aws", "region": "us-east-1,eu-west-1",
                   "iam_role_arn": "arn:aws:iam::111122223333:role/Reader", "iam_external_id": "ext-1"})
        );
        let split = NewScan {
            per_region: true,
            ..scan.clone()
        };
        let regions: Vec<(Option<String>, Value)> = split
            .runs(&a)
            .into_iter()
            .map(|(region, params)| (region, params["region"].clone()))
            .collect();
        assert_eq!(
            regions,
            [
                (Some("us-east-1".to_owned()), json!("us-east-1")),
                (Some("eu-west-1".to_owned()), json!("eu-west-1"))
            ]
        );
        let nowhere = ScanAccount {
            regions: vec![],
            ..a
        };
        assert_eq!(scan.run_params(&nowhere), None);
        assert!(split.runs(&nowhere).is_empty());
    }

    #[test]
    fn regions_look_like_aws_regions() {
        for good in [
            "us-east-1",
            "ap-northeast-2",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in ["", "us", "US-EAST-1", "us-east", "us-east-1a", "a-b-1"] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
