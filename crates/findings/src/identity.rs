//! What makes two findings the same finding, across runs and tool versions: the tool,
//! the account, the region, the resource and the check, each normalised so that the
//! forms a tool has written over its versions meet.
//!
//! - **Account**: trimmed.
//! - **Region**: trimmed and lowercase; none, `global` and `aws-global` are `global`
//!   (global services such as IAM are reported with no region by some tools and
//!   versions, with `global` by others).
//! - **Resource**: trimmed; an ARN's `arn:<partition>:<service>:` is lowercase (the
//!   rest of an ARN is case-sensitive and kept); an S3 bucket's ARN and its name are
//!   one resource, the name (`arn:aws:s3:::bucket` is `bucket`).
//! - **Check**: trimmed.
//!
//! Title, text and severity are not identity: a tool may reword or regrade a check
//! without making a new finding.

use sha2::{Digest, Sha256};

use sage_model::findings::{region, resource};

use crate::finding::{Finding, Tool};

/// A finding's identity, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub tool: Tool,
    pub account: String,
    pub region: String,
    pub resource: String,
    pub check: String,
}

impl Identity {
    pub fn of(finding: &Finding) -> Self {
        Self {
            tool: finding.tool,
            account: finding.account.trim().to_owned(),
            region: region(&finding.region),
            resource: resource(&finding.resource_id),
            check: finding.check_id.trim().to_owned(),
        }
    }

    /// sha256 of the five parts, each ended by a NUL, as lowercase hex.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [
            self.tool.as_str(),
            &self.account,
            &self.region,
            &self.resource,
            &self.check,
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        sage_model::hex(&hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Severity, Source, Status};

    fn finding(account: &str, region: &str, resource: &str, check: &str) -> Finding {
        Finding {
            tool: Tool::Prowler,
            check_id: check.to_owned(),
            title: "t".to_owned(),
            severity: Severity::High,
            status: Status::Fail,
            resource_id: resource.to_owned(),
            resource_type: String::new(),
            region: region.to_owned(),
            account: account.to_owned(),
            remediation: String::new(),
            compliance: Vec::new(),
            source: Source {
                file: "f".to_owned(),
                position: String::new(),
            },
        }
    }

    fn print(account: &str, region: &str, resource: &str, check: &str) -> String {
        Identity::of(&finding(account, region, resource, check)).fingerprint()
    }

    #[test]
    fn the_forms_a_tool_writes_meet() {
        let bucket = print("123456789012", "eu-west-1", "bucket-a", "s3_encryption");
        assert_eq!(bucket.len(), 64);
        for same in [
            print(
                " 123456789012",
                "EU-WEST-1",
                "arn:aws:s3:::bucket-a",
                "s3_encryption ",
            ),
            print(
                "123456789012",
                "eu-west-1",
                "ARN:AWS:S3:::bucket-a",
                "s3_encryption",
            ),
        ] {
            assert_eq!(same, bucket);
        }
        let iam = print("1", "", "arn:aws:iam::1:root", "iam_root_mfa");
        assert_eq!(
            iam,
            print("1", "aws-global", "arn:AWS:IAM::1:root", "iam_root_mfa")
        );
        assert_eq!(
            iam,
            print("1", "Global", "arn:aws:iam::1:root", "iam_root_mfa")
        );
    }

    #[test]
    fn every_part_tells_findings_apart() {
        let base = print("1", "us-east-1", "arn:aws:iam::1:role/Admin", "check");
        for other in [
            print("2", "us-east-1", "arn:aws:iam::1:role/Admin", "check"),
            print("1", "us-east-2", "arn:aws:iam::1:role/Admin", "check"),
            // The resource part of an ARN keeps its case.
            print("1", "us-east-1", "arn:aws:iam::1:role/admin", "check"),
            print("1", "us-east-1", "arn:aws:iam::1:role/Admin", "other"),
        ] {
            assert_ne!(other, base);
        }
        let mut scout = finding("1", "us-east-1", "arn:aws:iam::1:role/Admin", "check");
        scout.tool = Tool::Scout;
        assert_ne!(Identity::of(&scout).fingerprint(), base);
        // The separator keeps "ab" + "c" apart from "a" + "bc".
        assert_ne!(print("1", "x", "ab", "c"), print("1", "x", "a", "bc"));
    }
}
