//! The built-in scanner tools: their names, the driver each runs (a script of the
//! library that turns the module's arguments into the tool's own command line) and the
//! first version of the module each is created as. Admins add versions like any
//! module's; these definitions are only the start.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ScriptId;
use crate::catalog::FieldError;
use crate::catalog::module::ModuleRequest;
use crate::catalog::params::ValidParams;

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

/// The exit code of a tool's driver when the tool failed after the cloud's API
/// throttled it (EX_TEMPFAIL): a scan runs the account again after a pause.
pub const THROTTLED_EXIT: i32 = 75;

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

    /// The clouds the tool scans. AWS runs get the credentials of the role the worker
    /// assumes; the others get the run's own secrets (`azure_client_secret`,
    /// `gcp_credentials`, `kubeconfig`).
    pub fn providers(self) -> &'static [&'static str] {
        match self {
            Self::Prowler => &["aws", "azure", "gcp", "kubernetes"],
            Self::Scout => &["aws", "azure", "gcp"],
            Self::Steampipe | Self::Custodian => &["aws"],
        }
    }

    /// The parameters a run of this tool on `provider` cannot do without: its cloud's
    /// credentials (an AWS run's come from the role the worker assumes). None for a
    /// cloud the tool does not scan: `provider` itself is refused then.
    pub fn credentials_for(self, provider: &str) -> &'static [&'static str] {
        if !self.providers().contains(&provider) {
            return &[];
        }
        match provider {
            "azure" => &["azure_tenant_id", "azure_client_id", "azure_client_secret"],
            "gcp" => &["gcp_credentials"],
            "kubernetes" => &["kubeconfig"],
            _ => &[],
        }
    }

    /// The first version of the tool's module, running `driver`.
    pub fn module_request(self, driver: ScriptId) -> Result<ModuleRequest, serde_json::Error> {
        let (description, options, args, mut env, limits) = match self {
            Self::Prowler => (
                "Prowler: AWS, Azure, GCP and Kubernetes security best practices and compliance checks. Writes OCSF JSON, CSV and compliance CSVs.",
                vec![
                    list("services", "Services to scan, comma-separated (s3,iam)"),
                    list(
                        "checks",
                        "Checks to run, comma-separated (s3_bucket_default_encryption)",
                    ),
                    json!({"name": "severities", "type": "string", "pattern": SEVERITIES, "max_length": 64,
                           "description": "Only these severities, comma-separated (critical,high)"}),
                    json!({"name": "compliance", "type": "string", "pattern": COMPLIANCE, "max_length": 128,
                           "description": "A compliance framework the scanner image's Prowler holds, to report on (cis_2.0_aws)"}),
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
                "Scout Suite: a multi-cloud security audit (AWS, Azure, GCP). Writes its results JSON and an HTML report.",
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
                "Cloud Custodian: runs a policy's filters over AWS resources and writes the matches (resources.json per policy). Read-only: the policy is checked as data, and the driver runs it with --dryrun.",
                vec![
                    json!({"name": "policy", "type": "string", "required": true, "multiline": true,
                            "max_length": 65536, "description": POLICY_DESCRIPTION}),
                ],
                json!([]),
                json!({"CUSTODIAN_POLICY": "{policy}"}),
                json!({"timeout_sec": 1800, "memory_mb": 512, "cpus": 1.0, "pids": 256,
                       "open_files": 4096, "max_output_bytes": 16_777_216}),
            ),
        };
        let mut params = vec![
            json!({"name": "provider", "type": "enum", "values": self.providers(), "default": "aws",
                   "description": "The cloud to scan"}),
            json!({"name": "region", "type": "string", "pattern": REGIONS, "max_length": 1100,
                   "description": "One region or several, comma-separated (ap-northeast-2,us-east-1)"}),
            json!({"name": "iam_role_arn", "type": "string", "max_length": 600,
                   "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$",
                   "description": "The role the worker assumes with STS for this run (provider aws only)"}),
            json!({"name": "iam_session_name", "type": "string", "pattern": "^[A-Za-z0-9+=,.@_-]{2,64}$",
                   "max_length": 64,
                   "description": "The session name CloudTrail records (default sage-oss-<run id prefix>)"}),
            json!({"name": "iam_session_duration", "type": "integer", "min": 900, "max": 43200,
                   "default": 3600, "description": "Seconds the temporary credentials last, at most the run's timeout and 5 minutes"}),
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
        let clouds = self.providers();
        if clouds.contains(&"azure") {
            params.extend([
                json!({"name": "azure_tenant_id", "type": "string", "pattern": UUID, "max_length": 36,
                       "description": "Azure: the service principal's tenant"}),
                json!({"name": "azure_client_id", "type": "string", "pattern": UUID, "max_length": 36,
                       "description": "Azure: the service principal's application (client) id"}),
                json!({"name": "azure_client_secret", "type": "secret", "secret_as": "env", "max_length": 1024,
                       "description": "Azure: the service principal's secret"}),
                json!({"name": "azure_subscriptions", "type": "string", "pattern": UUIDS, "max_length": 3700,
                       "description": "Azure: subscriptions to scan, comma-separated (default: every one the principal sees)"}),
            ]);
            all_args.push(json!(["--subscriptions", "{azure_subscriptions}"]));
            for (name, param) in [
                ("AZURE_TENANT_ID", "azure_tenant_id"),
                ("AZURE_CLIENT_ID", "azure_client_id"),
                ("AZURE_CLIENT_SECRET", "azure_client_secret"),
            ] {
                env[name] = json!(format!("{{{param}}}"));
            }
        }
        if clouds.contains(&"gcp") {
            params.extend([
                json!({"name": "gcp_credentials", "type": "secret", "secret_as": "file",
                       "max_length": 16384, "description": GCP_DESCRIPTION}),
                json!({"name": "gcp_projects", "type": "string", "pattern": PROJECTS, "max_length": 3100,
                       "description": "GCP: projects to scan, comma-separated (default: every one the account sees)"}),
            ]);
            all_args.push(json!(["--projects", "{gcp_projects}"]));
            env["GOOGLE_APPLICATION_CREDENTIALS"] = json!("{gcp_credentials}");
        }
        if clouds.contains(&"kubernetes") {
            params.push(
                json!({"name": "kubeconfig", "type": "secret", "secret_as": "file",
                       "max_length": 65536, "description": KUBECONFIG_DESCRIPTION}),
            );
            env["KUBECONFIG"] = json!("{kubeconfig}");
        }
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

/// The names a tool in the scanner image holds for one cloud, read from its package
/// when the image is built (its label `sage.tool.<tool>.names`): what a run's
/// `compliance`, `services` and `checks` may name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolNames {
    #[serde(default)]
    pub compliance: BTreeSet<String>,
    #[serde(default)]
    pub services: BTreeSet<String>,
    #[serde(default)]
    pub checks: BTreeSet<String>,
}

/// [`ToolNames`] by provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NameCatalog(pub BTreeMap<String, ToolNames>);

impl NameCatalog {
    /// Each parameter naming something the image's tool does not hold for the run's
    /// provider. A provider the catalogue does not list is left to the driver, which
    /// reads the tool's package inside the sandbox.
    pub fn unknown(&self, tool: Tool, params: &ValidParams) -> Vec<FieldError> {
        let provider = params.text("provider").unwrap_or_else(|| "aws".to_owned());
        let Some(names) = self.0.get(&provider) else {
            return Vec::new();
        };
        [
            ("compliance", &names.compliance),
            ("services", &names.services),
            ("checks", &names.checks),
        ]
        .into_iter()
        .filter_map(|(param, known)| {
            let value = params.text(param)?;
            let unknown: Vec<&str> = value
                .split(',')
                .filter(|name| !name.is_empty() && !known.contains(*name))
                .take(5)
                .collect();
            (!unknown.is_empty()).then(|| {
                FieldError::new(
                    format!("params.{param}"),
                    format!(
                        "{} not held by this image's {tool} for {provider}",
                        unknown.join(", ")
                    ),
                )
            })
        })
        .collect()
    }
}

/// Region names of every provider: lowercase words and digits joined by '-', each
/// starting with a letter. The drivers split the list into argv elements of their own:
/// an item starting with '-' would read as one of the tool's options.
const REGIONS: &str = "^[a-z][a-z0-9-]{1,31}(,[a-z][a-z0-9-]{1,31}){0,31}$";
const UUID: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
const UUIDS: &str = "^[0-9a-fA-F-]{36}(,[0-9a-fA-F-]{36}){0,99}$";
/// GCP project ids: 6 to 30 of lowercase letters, digits and '-', starting with a letter.
const PROJECTS: &str = "^[a-z][a-z0-9-]{4,28}[a-z0-9](,[a-z][a-z0-9-]{4,28}[a-z0-9]){0,99}$";
/// A framework name as Prowler spells them (`cis_2.0_aws`, `kisa_isms_p_2023_aws`):
/// words of a-z and 0-9 joined by one '_' or '.', so never `..` nor a leading dot.
const COMPLIANCE: &str = "^[a-z0-9]+([._][a-z0-9]+){0,31}$";
const KUBECONFIG_DESCRIPTION: &str = "Kubernetes: the kubeconfig of the cluster to scan, checked as data: one cluster (server over https, certificate-authority-data, tls-server-name) and one user with a token, or client-certificate-data and client-key-data; exec, auth-provider, files, proxy-url and more than one context are refused";
const GCP_DESCRIPTION: &str = "GCP: a service account's key, as JSON (type service_account, Google's endpoints); other credential types are refused";
const POLICY_DESCRIPTION: &str = "The policy file, as YAML: read-only (mode pull or none, no actions, no value_from or url), resources aws.*, at most 100 policies";
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
    use crate::ExecutionId;
    use crate::catalog::cloud::{Credentials, SandboxImage};
    use crate::catalog::module::{Limits, ModuleDefinition, NetworkPolicy};
    use crate::catalog::script::{Interpreter, ScriptPath};
    use crate::plan::RunPlan;

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

    fn definition(tool: Tool) -> ModuleDefinition {
        ModuleDefinition::parse(
            &tool.module_request(ScriptId::new()).unwrap(),
            &Limits::CEILING,
        )
        .unwrap()
    }

    fn plan(tool: Tool, params: serde_json::Value) -> RunPlan {
        let definition = definition(tool);
        let valid = definition.admit(&params).unwrap();
        let script = ScriptPath::parse(&tool.driver()).unwrap();
        RunPlan::new(
            ExecutionId::new(),
            &script,
            Interpreter::Python3,
            &definition,
            &valid,
        )
    }

    fn env_names(plan: &RunPlan) -> Vec<&str> {
        let mut names: Vec<&str> = plan.env.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn each_tool_offers_the_clouds_its_driver_runs() {
        for tool in Tool::ALL {
            let request =
                serde_json::to_value(tool.module_request(ScriptId::new()).unwrap()).unwrap();
            let provider = request["params"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "provider")
                .unwrap_or_else(|| panic!("{tool} has no provider"));
            assert_eq!(
                provider["values"],
                serde_json::json!(tool.providers()),
                "{tool}"
            );
        }
        assert_eq!(
            Tool::Prowler.providers(),
            ["aws", "azure", "gcp", "kubernetes"]
        );
        assert_eq!(Tool::Scout.providers(), ["aws", "azure", "gcp"]);
    }

    #[test]
    fn other_clouds_credentials_reach_the_driver_as_the_sdks_variables_and_files() {
        let azure = plan(
            Tool::Prowler,
            serde_json::json!({"provider": "azure",
                "azure_tenant_id": "0f1e2d3c-4b5a-4968-8776-655443322110",
                "azure_client_id": "11111111-2222-4333-8444-555555555555",
                "azure_client_secret": "azure-secret-value-0123456789",
                "azure_subscriptions": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}),
        );
        assert_eq!(
            env_names(&azure),
            ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"]
        );
        assert!(azure.argv.ends_with(&[
            "--subscriptions".to_owned(),
            "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee".to_owned()
        ]));
        assert!(!azure.argv.iter().any(|a| a.contains("azure-secret-value")));

        let gcp = plan(
            Tool::Scout,
            serde_json::json!({"provider": "gcp", "gcp_credentials": GCP_KEY,
                               "gcp_projects": "sage-scan-1,other-project"}),
        );
        assert_eq!(
            gcp.env,
            [(
                "GOOGLE_APPLICATION_CREDENTIALS".to_owned(),
                "/run/secrets/gcp_credentials".to_owned()
            )]
        );
        assert_eq!(gcp.secret_files.len(), 1);

        let cluster = plan(
            Tool::Prowler,
            serde_json::json!({"provider": "kubernetes", "kubeconfig": KUBECONFIG}),
        );
        assert_eq!(env_names(&cluster), ["KUBECONFIG"]);

        // An AWS run carries none of them, and the other tools offer no other cloud.
        let aws = plan(Tool::Prowler, serde_json::json!({"provider": "aws"}));
        assert!(aws.env.is_empty(), "{:?}", env_names(&aws));
        assert!(
            definition(Tool::Custodian)
                .admit(&serde_json::json!({
            "provider": "azure", "policy": "policies: []"}))
                .is_err()
        );
    }

    const KUBECONFIG: &str = "clusters:\n- name: c\n  cluster: {server: 'https://10.0.0.1:6443'}\nusers:\n- name: u\n  user: {token: kube-token-0123456789}\n";
    const GCP_KEY: &str = r#"{"type": "service_account", "client_email": "s@p-123456.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFO\n-----END PRIVATE KEY-----\n"}"#;

    #[test]
    fn the_sandbox_receives_tool_inputs_rebuilt_from_their_checked_fields() {
        let kubeconfig = format!(
            "{KUBECONFIG}contexts:\n- name: ctx\n  context: {{cluster: c, user: u}}\n# a comment\n"
        );
        let cluster = plan(
            Tool::Prowler,
            serde_json::json!({"provider": "kubernetes", "kubeconfig": kubeconfig}),
        );
        let file: serde_json::Value =
            serde_json::from_str(cluster.secret_files[0].value()).unwrap();
        assert_eq!(file["users"][0]["user"]["token"], "kube-token-0123456789");
        assert_eq!(file["current-context"], "ctx");

        let policy = plan(
            Tool::Custodian,
            serde_json::json!({"policy": "policies:\n- name: p # why\n  resource: aws.s3\n"}),
        );
        let (_, text) = policy
            .env
            .iter()
            .find(|(name, _)| name == "CUSTODIAN_POLICY")
            .unwrap();
        assert_eq!(text, r#"{"policies":[{"name":"p","resource":"aws.s3"}]}"#);
    }

    #[test]
    fn tool_inputs_that_could_run_code_are_refused_at_their_field() {
        let refused = |tool: Tool, params: serde_json::Value| {
            definition(tool)
                .admit(&params)
                .unwrap_err()
                .into_iter()
                .map(|p| format!("{} {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let exec = KUBECONFIG.replace(
            "user: {token: kube-token-0123456789}",
            "user: {exec: {command: /bin/sh, args: [-c, id]}}",
        );
        let why = refused(
            Tool::Prowler,
            serde_json::json!({"provider": "kubernetes", "kubeconfig": exec}),
        );
        assert!(
            why.starts_with("params.kubeconfig users[0].user.exec is not accepted"),
            "{why}"
        );
        let why = refused(
            Tool::Scout,
            serde_json::json!({"provider": "gcp",
                "gcp_credentials": r#"{"type": "external_account", "credential_source": {"file": "/proc/self/environ"}}"#}),
        );
        assert!(
            why.starts_with("params.gcp_credentials credential_source"),
            "{why}"
        );
        let why = refused(
            Tool::Custodian,
            serde_json::json!({"policy": "policies:\n- name: p\n  resource: aws.ec2\n  actions: [terminate]\n"}),
        );
        assert!(
            why.starts_with("params.policy policies[0].actions"),
            "{why}"
        );
        let why = refused(Tool::Prowler, serde_json::json!({"compliance": ".."}));
        assert!(why.starts_with("params.compliance must match"), "{why}");
    }

    #[test]
    fn a_version_cannot_route_a_run_around_the_input_checks() {
        let mut request =
            serde_json::to_value(Tool::Prowler.module_request(ScriptId::new()).unwrap()).unwrap();
        request["env"]["HTTPS_PROXY"] = serde_json::json!("{region}");
        request["env"]["OPENSSL_CONF"] = serde_json::json!("{region}");
        let args = request["args"].as_array_mut().unwrap();
        args.push(serde_json::json!(["--kubeconfig-file", "{kubeconfig}"]));
        let at = args.len() - 1;
        let request: ModuleRequest = serde_json::from_value(request).unwrap();
        let fields: Vec<String> = ModuleDefinition::parse(&request, &Limits::CEILING)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        for expected in [
            "env.HTTPS_PROXY",
            "env.OPENSSL_CONF",
            &format!("args[{at}]"),
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn an_aws_role_goes_only_to_a_run_that_scans_aws() {
        let role = "arn:aws:iam::123456789012:role/SageScanner";
        let why = definition(Tool::Prowler)
            .admit(&serde_json::json!({"provider": "kubernetes",
                "kubeconfig": KUBECONFIG, "iam_role_arn": role}))
            .unwrap_err();
        assert_eq!(why.len(), 1, "{why:?}");
        assert_eq!(why[0].field, "params.iam_role_arn");
        assert!(why[0].message.contains("provider aws only"));
        // On AWS, the session is cut to the run's timeout (an hour) and its margin.
        let aws = plan(
            Tool::Prowler,
            serde_json::json!({"iam_role_arn": role, "iam_session_duration": 43200}),
        );
        assert_eq!(aws.assume_role.unwrap().0.duration_sec, 3600 + 300);
    }

    #[test]
    fn only_names_the_images_tool_holds_may_be_asked_for() {
        let catalog: NameCatalog = serde_json::from_value(serde_json::json!({
            "aws": {"compliance": ["cis_2.0_aws"], "services": ["s3", "iam"],
                    "checks": ["s3_bucket_default_encryption"]}}))
        .unwrap();
        let valid = |params| definition(Tool::Prowler).admit(&params).unwrap();
        let fine = valid(serde_json::json!({"services": "s3,iam",
            "checks": "s3_bucket_default_encryption"}));
        assert!(catalog.unknown(Tool::Prowler, &fine).is_empty());
        let unknown = catalog.unknown(
            Tool::Prowler,
            &valid(serde_json::json!({"services": "s3,no_such", "compliance": "cis_9.9_aws"})),
        );
        let shown: Vec<String> = unknown
            .iter()
            .map(|p| format!("{} {}", p.field, p.message))
            .collect();
        assert_eq!(
            shown,
            [
                "params.compliance cis_9.9_aws not held by this image's prowler for aws",
                "params.services no_such not held by this image's prowler for aws"
            ]
        );
        // A cloud the catalogue does not list is the driver's to check.
        let kube = valid(
            serde_json::json!({"provider": "kubernetes", "kubeconfig": KUBECONFIG,
            "checks": "anything_at_all"}),
        );
        assert!(catalog.unknown(Tool::Prowler, &kube).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for tool in Tool::ALL {
            assert_eq!(tool.as_str().parse::<Tool>().unwrap(), tool);
        }
        assert!("nmap".parse::<Tool>().is_err());
    }
}
