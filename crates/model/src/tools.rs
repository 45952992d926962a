//! The built-in scanner tools: their names, the driver each runs (a script of the
//! library that turns the module's arguments into the tool's own command line) and the
//! first version of the module each is created as. Admins add versions like any
//! module's; these definitions are only the start.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ScriptId;
use crate::catalog::module::ModuleRequest;

/// The scanners, named as their tool modules are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Prowler,
    Scout,
    /// Powerpipe benchmarks over Steampipe, and `steampipe check`: one output format.
    Steampipe,
    Custodian,
}

impl Tool {
    pub const ALL: [Tool; 4] = [Self::Prowler, Self::Scout, Self::Steampipe, Self::Custodian];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prowler => "prowler",
            Self::Scout => "scout",
            Self::Steampipe => "steampipe",
            Self::Custodian => "custodian",
        }
    }

    /// The driver's path in the script library.
    pub fn driver(self) -> String {
        format!("sage-tools/{}.py", self.as_str())
    }

    /// The first version of the tool's module, running `driver`. Every tool scans AWS
    /// only: a run's cloud identity is an AWS role the worker assumes, and the other
    /// clouds Prowler and Scout Suite know (Azure, GCP, Kubernetes) need credentials
    /// no run can carry yet, so a request naming one is refused at the field instead
    /// of accepted and failed.
    pub fn module_request(self, driver: ScriptId) -> Result<ModuleRequest, serde_json::Error> {
        let (description, options, args, env, limits) = match self {
            Self::Prowler => (
                "Prowler: AWS security best practices and compliance checks. Writes OCSF JSON, CSV and compliance CSVs.",
                vec![
                    list("services", "Services to scan, comma-separated (s3,iam)"),
                    list(
                        "checks",
                        "Checks to run, comma-separated (s3_bucket_default_encryption)",
                    ),
                    json!({"name": "severities", "type": "string", "pattern": SEVERITIES, "max_length": 64,
                           "description": "Only these severities, comma-separated (critical,high)"}),
                    json!({"name": "compliance", "type": "string", "pattern": "^[a-z0-9_.]{1,128}$", "max_length": 128,
                           "description": "A compliance framework to report on (cis_2.0_aws)"}),
                ],
                json!([
                    ["--services", "{services}"],
                    ["--checks", "{checks}"],
                    ["--severities", "{severities}"],
                    ["--compliance", "{compliance}"]
                ]),
                json!({}),
                // An hour, the longest a chained role session lasts (STS caps a role
                // assumed by an assumed role, as IRSA's is, at 3600 s).
                json!({"timeout_sec": 3600, "memory_mb": 2048, "cpus": 2.0, "pids": 1024,
                       "open_files": 8192, "max_output_bytes": 33_554_432}),
            ),
            Self::Scout => (
                "Scout Suite: a security audit of an AWS account. Writes its results JSON and an HTML report.",
                vec![list(
                    "services",
                    "Services to scan, comma-separated (s3,iam)",
                )],
                json!([["--services", "{services}"]]),
                json!({}),
                json!({"timeout_sec": 3600, "memory_mb": 1024, "cpus": 1.0, "pids": 512,
                       "open_files": 4096, "max_output_bytes": 16_777_216}),
            ),
            Self::Steampipe => (
                "Powerpipe benchmarks over Steampipe (aws_compliance mod). Writes the benchmark's JSON and CSV.",
                vec![
                    json!({"name": "benchmark", "type": "string", "pattern": "^[a-z0-9_]+(\\.[a-z0-9_]+){1,5}$",
                            "max_length": 200, "default": "aws_compliance.benchmark.cis_v300",
                            "description": "The Powerpipe benchmark to run"}),
                ],
                json!([["--benchmark", "{benchmark}"]]),
                json!({}),
                json!({"timeout_sec": 3600, "memory_mb": 2048, "cpus": 1.0, "pids": 512,
                       "open_files": 8192, "max_output_bytes": 16_777_216}),
            ),
            Self::Custodian => (
                "Cloud Custodian: runs a policy's filters over AWS resources and writes the matches (resources.json per policy). Validated first; actions only in versions that pass --allow-actions.",
                vec![
                    json!({"name": "policy", "type": "string", "required": true, "multiline": true,
                            "max_length": 65536, "description": "The policy file, as YAML text"}),
                ],
                // Without --allow-actions the driver passes --dryrun: filters run,
                // actions do not.
                json!([]),
                json!({"CUSTODIAN_POLICY": "{policy}"}),
                json!({"timeout_sec": 1800, "memory_mb": 512, "cpus": 1.0, "pids": 256,
                       "open_files": 4096, "max_output_bytes": 16_777_216}),
            ),
        };
        let mut params = vec![
            json!({"name": "provider", "type": "enum", "values": ["aws"], "default": "aws",
                   "description": "The cloud to scan"}),
            json!({"name": "region", "type": "string", "pattern": REGIONS, "max_length": 1100,
                   "description": "One region or several, comma-separated (ap-northeast-2,us-east-1)"}),
            json!({"name": "iam_role_arn", "type": "string", "max_length": 600,
                   "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$",
                   "description": "The role the worker assumes with STS for this run"}),
            json!({"name": "iam_session_name", "type": "string", "pattern": "^[A-Za-z0-9+=,.@_-]{2,64}$",
                   "max_length": 64,
                   "description": "The session name CloudTrail records (default sage-oss-<run id prefix>)"}),
            json!({"name": "iam_session_duration", "type": "integer", "min": 900, "max": 43200,
                   "default": 3600, "description": "Seconds the temporary credentials last"}),
            json!({"name": "iam_external_id", "type": "secret", "secret_as": "env", "max_length": 1224,
                   "description": "The external id the role's trust policy asks for"}),
            json!({"name": "aws_profile", "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$", "max_length": 64,
                   "description": "Local development only: the profile of the worker's AWS config that assumes the role (refused unless the deployment lists it in AWS_PROFILES_ALLOWED)"}),
        ];
        params.extend(options);
        let mut all_args = vec![
            json!(["--provider", "{provider}"]),
            json!(["--region", "{region}"]),
        ];
        all_args.extend(args.as_array().cloned().unwrap_or_default());
        serde_json::from_value(json!({
            "description": description,
            "script_id": driver,
            "params": params,
            "args": all_args,
            "env": env,
            "limits": limits,
            "network": "egress",
            "image": "scanner",
            "credentials": "aws_assume_role",
        }))
    }
}

/// Region names of every provider: lowercase words and digits joined by '-', each
/// starting with a letter. The drivers split the list into argv elements of their own:
/// an item starting with '-' would read as one of the tool's options.
const REGIONS: &str = "^[a-z][a-z0-9-]{1,31}(,[a-z][a-z0-9-]{1,31}){0,31}$";
const SEVERITIES: &str =
    "^(critical|high|medium|low|informational)(,(critical|high|medium|low|informational)){0,4}$";

fn list(name: &str, description: &str) -> Value {
    json!({"name": name, "type": "string", "pattern": "^[a-z0-9_]{1,128}(,[a-z0-9_]{1,128}){0,199}$",
           "max_length": 4096, "description": description})
}

impl std::str::FromStr for Tool {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|tool| tool.as_str() == name)
            .ok_or_else(|| format!("{name:?} is not one of prowler, scout, steampipe, custodian"))
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::cloud::{Credentials, SandboxImage};
    use crate::catalog::module::{Limits, ModuleDefinition, NetworkPolicy};

    #[test]
    fn every_built_in_module_passes_the_checks_of_any_module() {
        for tool in Tool::ALL {
            let request = tool.module_request(ScriptId::new()).unwrap();
            let definition = ModuleDefinition::parse(&request, &Limits::CEILING)
                .unwrap_or_else(|problems| panic!("{tool}: {problems:?}"));
            assert_eq!(definition.image(), SandboxImage::Scanner);
            assert_eq!(definition.network(), NetworkPolicy::Egress);
            assert_eq!(definition.credentials(), Credentials::AwsAssumeRole);
        }
    }

    #[test]
    fn every_tool_offers_only_the_cloud_a_run_can_reach() {
        for tool in Tool::ALL {
            let request =
                serde_json::to_value(tool.module_request(ScriptId::new()).unwrap()).unwrap();
            let provider = request["params"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "provider")
                .unwrap_or_else(|| panic!("{tool} has no provider"));
            assert_eq!(provider["values"], serde_json::json!(["aws"]), "{tool}");
        }
    }

    #[test]
    fn names_round_trip() {
        for tool in Tool::ALL {
            assert_eq!(tool.as_str().parse::<Tool>().unwrap(), tool);
        }
        assert!("nmap".parse::<Tool>().is_err());
    }
}
