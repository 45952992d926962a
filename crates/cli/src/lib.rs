//! `sage`: Sage Runner's command line. Every command is one or a few calls of the
//! api (`client`), with the api's own types (`api`, generated from its contract);
//! tables for people, JSON lines for scripts; exit codes in docs/cli.md.

pub mod api;
mod artifacts;
pub mod client;
mod credentials;
mod evidence;
mod follow;
mod login;
mod output;
mod params;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use crate::client::{Client, ClientError, Identity};
use crate::follow::End;
use crate::output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "sage",
    version,
    about = "Sage Runner from the command line",
    after_help = "Example: sage --demo-user analyst@example.com run backup-db -p db_name=orders -p backup_key=@key.txt --follow"
)]
pub struct Cli {
    /// The api's address.
    #[arg(
        long,
        env = "SAGE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Tables for people, or JSON lines (stable field names) for scripts.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
    /// Act as this user against an api in demo mode (AUTH_MODE=demo_header).
    #[arg(long, env = "SAGE_DEMO_USER", global = true)]
    pub demo_user: Option<String>,
    /// A bearer token from the deployment's identity provider (else the sign-in
    /// `sage login` kept for --url).
    #[arg(long, env = "SAGE_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Where sign-ins are kept (default: the user's config directory, ~/.config/sage).
    #[arg(long, env = "SAGE_CONFIG_DIR", global = true)]
    pub config_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Signs in to the api's identity provider and keeps the sign-in for --url.
    #[command(after_help = "Example: sage --url https://sage.example.com login")]
    Login {
        /// device: confirm a code in any browser; browser: a browser on this machine,
        /// redirected back to 127.0.0.1; auto: device when the issuer offers it.
        #[arg(long, value_enum, default_value_t = login::Flow::Auto)]
        flow: login::Flow,
    },
    /// Revokes the sign-in kept for --url at the issuer and forgets it.
    #[command(after_help = "Example: sage logout")]
    Logout,
    /// Who the api takes you for: email, roles, groups.
    #[command(after_help = "Example: sage whoami")]
    Whoami,
    /// The modules you may see.
    #[command(subcommand, after_help = "Example: sage modules ls")]
    Modules(ModulesCommand),
    /// Runs a module: prints its id, or with --follow its live log, and exits as it ended.
    #[command(
        after_help = "Example: sage run backup-db -p db_name=orders -p backup_key=@key.txt --follow"
    )]
    Run {
        /// The module's name or id.
        module: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Runs: list, show, cancel.
    #[command(subcommand, after_help = "Example: sage runs ls --status running")]
    Runs(RunsCommand),
    /// Approves a run waiting for approval (approvers; never your own run).
    #[command(after_help = "Example: sage approve 0b7e… -m \"ticket OPS-42\"")]
    Approve {
        id: Uuid,
        /// Why: kept with the decision.
        #[arg(short = 'm', long = "comment")]
        comment: String,
    },
    /// Rejects a run waiting for approval.
    #[command(after_help = "Example: sage reject 0b7e… -m \"not during the freeze\"")]
    Reject {
        id: Uuid,
        #[arg(short = 'm', long = "comment")]
        comment: String,
    },
    /// A run's artifacts.
    #[command(
        subcommand,
        after_help = "Example: sage artifacts get 0b7e… backup.log -o out/"
    )]
    Artifacts(ArtifactsCommand),
    /// The scanners: whether the workers' image holds each, its version, its latest run.
    #[command(subcommand, after_help = "Example: sage tools ls")]
    Tools(ToolsCommand),
    /// Findings across the scanners' runs, each with its state over time.
    #[command(
        subcommand,
        after_help = "Example: sage findings ls --tool prowler --state new --severity critical"
    )]
    Findings(FindingsCommand),
    /// Evidence reports: a PDF of findings (and a framework's requirements) with a
    /// signed pack that verifies offline.
    #[command(
        subcommand,
        after_help = "Example: sage evidence create --tools prowler --lang ko --wait -o report.pdf"
    )]
    Evidence(EvidenceCommand),
    /// The audit trail (admins, auditors).
    #[command(subcommand, after_help = "Example: sage audit verify")]
    Audit(AuditCommand),
    /// Prints a shell completion script.
    #[command(after_help = "Example: sage completions bash > /etc/bash_completion.d/sage")]
    Completions { shell: clap_complete::Shell },
    /// Prints the manual page (roff).
    #[command(after_help = "Example: sage man > sage.1 && man ./sage.1")]
    Man,
    /// A run's log: all of it, or with --follow until the run ends.
    #[command(after_help = "Example: sage logs 0b7e…  --follow")]
    Logs {
        id: Uuid,
        #[arg(long)]
        follow: bool,
    },
}

/// What a run is asked with, of a module or of a scanner's.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A version of the module (default: its latest).
    #[arg(short = 'v', long)]
    pub version: Option<i32>,
    /// A parameter as name=value; name=@FILE reads the value from a file (for secrets,
    /// which then never appear on a command line).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Print the run's log as it comes and exit with its end.
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Every scanner: whether the workers' image holds it, its version, its latest run.
    Ls,
    /// Starts a scanner's run with its module's parameters (admins, or with `run` on
    /// the tool's module).
    #[command(
        after_help = "Example: sage tools run prowler -p provider=aws -p region=ap-northeast-2 -p services=s3 -p iam_role_arn=arn:aws:iam::111122223333:role/SageScanner --follow"
    )]
    Run {
        tool: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// A scanner's latest finished run: its findings by status and severity.
    #[command(after_help = "Example: sage tools latest prowler")]
    Latest { tool: String },
}

#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// The gravest first.
    Ls {
        #[arg(long)]
        tool: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One finding and its history: each change of state and the run that made it.
    #[command(after_help = "Example: sage findings show 3f9a…")]
    Show { fingerprint: String },
    /// What changed from one run of a scanner to another: new, reopened, fixed, still
    /// open, not covered.
    #[command(after_help = "Example: sage findings diff --from 0b7e… --to 4c1d…")]
    Diff {
        #[arg(long)]
        from: Uuid,
        #[arg(long)]
        to: Uuid,
        /// Findings listed per change (the totals count them all).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Asks for a report over the latest runs of --tools, over --runs, or over a --scan.
    #[command(
        after_help = "Example: sage evidence create --tools prowler,custodian --compliance kisa_isms_p_2023_korean_aws --lang ko --wait -o report.pdf --pack pack.zip"
    )]
    Create {
        /// The scanners whose latest finished runs it reports on.
        #[arg(long, value_delimiter = ',')]
        tools: Vec<String>,
        /// The runs it reports on, instead.
        #[arg(long, value_delimiter = ',')]
        runs: Vec<Uuid>,
        /// A scan that ended: its runs that succeeded.
        #[arg(long)]
        scan: Option<Uuid>,
        /// A framework whose requirements it assesses (GET /api/v1/compliance/frameworks).
        #[arg(long)]
        compliance: Option<String>,
        /// ko or en.
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// Wait until it is built (or failed), and exit 0 only when it is ready.
        #[arg(long)]
        wait: bool,
        /// With --wait: how long, in seconds.
        #[arg(long, default_value_t = 600, requires = "wait")]
        timeout: u64,
        /// With --wait: save the PDF here (sha256 checked).
        #[arg(short = 'o', long = "pdf", value_name = "FILE", requires = "wait")]
        pdf: Option<std::path::PathBuf>,
        /// With --wait: save the signed evidence pack here (sha256 checked).
        #[arg(long, value_name = "FILE", requires = "wait")]
        pack: Option<std::path::PathBuf>,
    },
    /// The newest reports.
    Ls {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One report: its status, what it covers, why it failed.
    Show { id: Uuid },
    /// Downloads a ready report's PDF or pack (sha256 checked).
    #[command(after_help = "Example: sage evidence get 0b7e… -o report.pdf --pack pack.zip")]
    Get {
        id: Uuid,
        #[arg(short = 'o', long = "pdf", value_name = "FILE")]
        pdf: Option<std::path::PathBuf>,
        #[arg(long, value_name = "FILE")]
        pack: Option<std::path::PathBuf>,
    },
    /// Checks a signed evidence pack on this machine: the manifest's signature, every
    /// file against it, the counts against the findings; exits 1 naming each thing that
    /// does not hold.
    #[command(
        after_help = "Example: sage evidence verify pack.zip --public-key sage-evidence.pub.json"
    )]
    Verify {
        pack: std::path::PathBuf,
        /// The key to verify with, as GET /api/v1/evidence/public-key answers it, saved
        /// (default: fetched from --url by the id the pack names).
        #[arg(long, value_name = "FILE")]
        public_key: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The newest events first.
    Ls {
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Walks the hash chain; exits 1 when it is broken.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// The run's artifacts: name, size, sha256.
    Ls { id: Uuid },
    /// Downloads one artifact, or all, into a directory, each checked against its
    /// sha256.
    Get {
        id: Uuid,
        name: Option<String>,
        #[arg(short = 'o', long = "dir", default_value = ".")]
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModulesCommand {
    /// Every module you may see.
    Ls,
    /// One module's latest version: its parameters and limits.
    Show { module: String },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The newest runs you may see.
    Ls {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run.
    Show { id: Uuid },
    /// Cancels a run that has not ended, or with --all every one of yours (an admin's:
    /// of --module or --user) in one request.
    #[command(
        group(clap::ArgGroup::new("which").required(true).args(["id", "all"])),
        after_help = "Example: sage runs cancel --all --module backup-db --status queued"
    )]
    Cancel {
        id: Option<Uuid>,
        #[arg(long)]
        all: bool,
        /// With --all: a module's runs (name or id).
        #[arg(long, requires = "all")]
        module: Option<String>,
        /// With --all: a user's runs, by email (admins).
        #[arg(long, requires = "all")]
        user: Option<String>,
        /// With --all: of queued, awaiting_approval, running (default: all three).
        #[arg(long, requires = "all", value_delimiter = ',')]
        status: Vec<String>,
    },
}

/// What `sage` exits with (docs/cli.md).
pub mod exit {
    /// The api refused the request (a field, a permission, a conflict).
    pub const REFUSED: u8 = 100;
    /// The api could not be reached, or answered what sage does not read.
    pub const UNREACHABLE: u8 = 101;
    /// The run failed without an exit code of its own (it could not start, or printed
    /// past its output limit).
    pub const FAILED: u8 = 110;
    pub const OUT_OF_MEMORY: u8 = 111;
    pub const TIMED_OUT: u8 = 120;
    pub const CANCELLED: u8 = 121;
    pub const REJECTED: u8 = 122;
    pub const LOST: u8 = 123;
    /// The script's own code above 99 is reported as 99, below sage's own codes.
    pub const SCRIPT_MAX: i32 = 99;
}

/// Lowercase hex, as the api writes digests.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The exit code of a run that ended so.
pub fn exit_code_of(end: &End) -> u8 {
    match end.status.as_str() {
        "succeeded" => 0,
        "failed" => match (end.reason.as_deref(), end.exit_code) {
            (_, Some(code)) if code > 0 => u8::try_from(code.min(exit::SCRIPT_MAX)).unwrap_or(99),
            (Some("oom"), _) => exit::OUT_OF_MEMORY,
            _ => exit::FAILED,
        },
        "timed_out" => exit::TIMED_OUT,
        "cancelled" => exit::CANCELLED,
        "rejected" => exit::REJECTED,
        "lost" => exit::LOST,
        _ => exit::FAILED,
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    let out = Output::new(cli.output);
    match identify(&cli).await {
        Ok(client) => match execute(&client, &out, cli.config_dir, cli.command).await {
            Ok(code) => ExitCode::from(code),
            Err(error) => fail(&error),
        },
        Err(error) => fail(&error),
    }
}

/// The api as the caller: `--token`, else `--demo-user`, else the kept sign-in (renewed
/// when it is about to expire), else nobody.
async fn identify(cli: &Cli) -> Result<Client, ClientError> {
    let anonymous = Client::new(&cli.url, Identity::Anonymous);
    // Commands that call nobody, or only the issuer, renew nothing.
    let offline = matches!(
        &cli.command,
        Command::Login { .. }
            | Command::Logout
            | Command::Completions { .. }
            | Command::Man
            | Command::Evidence(EvidenceCommand::Verify {
                public_key: Some(_),
                ..
            })
    );
    let identity = match (&cli.token, &cli.demo_user) {
        (Some(token), _) => Identity::Token(token.clone()),
        (None, Some(email)) => Identity::Demo(email.clone()),
        (None, None) if offline => Identity::Anonymous,
        (None, None) => {
            let store = credentials::Store::new(cli.config_dir.clone())?;
            match login::bearer(&store, anonymous.base()).await? {
                Some(token) => Identity::Token(token),
                None => Identity::Anonymous,
            }
        }
    };
    Ok(anonymous.with_identity(identity))
}

fn fail(error: &ClientError) -> ExitCode {
    for line in error.lines() {
        eprintln!("sage: {line}");
    }
    ExitCode::from(match error {
        ClientError::Refused { .. } | ClientError::SignIn(_) => exit::REFUSED,
        _ => exit::UNREACHABLE,
    })
}

async fn execute(
    client: &Client,
    out: &Output,
    config_dir: Option<std::path::PathBuf>,
    command: Command,
) -> Result<u8, ClientError> {
    match command {
        Command::Login { flow } => {
            let store = credentials::Store::new(config_dir)?;
            let signed_in = login::login(client, &store, flow).await?;
            eprintln!(
                "sage: signed in to {} as {} (kept in {})",
                client.base(),
                signed_in.email,
                store.path().display()
            );
        }
        Command::Logout => {
            let store = credentials::Store::new(config_dir)?;
            match login::logout(&store, client.base()).await? {
                login::SignedOut::NotSignedIn => {
                    eprintln!("sage: nobody is signed in to {}", client.base());
                }
                login::SignedOut::Forgotten { email, revoked } => {
                    let revoked = match revoked {
                        login::Revoked::Both => "the issuer revoked the tokens".to_owned(),
                        login::Revoked::Nothing => {
                            "the issuer offers no revocation: the tokens live until they expire"
                                .to_owned()
                        }
                        login::Revoked::RefreshOnly { access_until } => format!(
                            "the issuer revoked the refresh token; it revokes no access token, so the last one lives until {}",
                            access_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                    };
                    eprintln!("sage: {email} signed out of {}; {revoked}", client.base());
                }
            }
        }
        Command::Whoami => out.me(&client.me().await?),
        Command::Modules(ModulesCommand::Ls) => {
            out.modules(&client.modules().await?);
        }
        Command::Modules(ModulesCommand::Show { module }) => {
            out.module(&client.find_module(&module).await?);
        }
        Command::Run { module, run } => {
            let module = client.find_module(&module).await?;
            let mut params = params::parse(&run.params, &module.params_schema)?;
            params::ask_for_secrets(&mut params, &module.params_schema)?;
            let submitted_run = client.submit(module.id, run.version, params).await?;
            return submitted(client, out, &submitted_run, &module.name, run.follow).await;
        }
        Command::Runs(RunsCommand::Ls { status, limit }) => {
            out.runs(&client.runs(status.as_deref(), limit).await?);
        }
        Command::Runs(RunsCommand::Show { id }) => out.run(&client.run(id).await?),
        Command::Runs(RunsCommand::Cancel { id: Some(id), .. }) => {
            out.run(&client.cancel(id).await?)
        }
        Command::Runs(RunsCommand::Cancel {
            id: None,
            module,
            user,
            status,
            ..
        }) => {
            let module_id = match module {
                Some(module) => Some(client.find_module(&module).await?.id),
                None => None,
            };
            let request = api::CancelManyRequest {
                module_id,
                requested_by: user,
                status: (!status.is_empty()).then_some(status),
            };
            let done = client.cancel_many(&request).await?;
            eprintln!(
                "sage: {} runs cancelled ({} of them were running)",
                done.cancelled, done.running
            );
        }
        Command::Approve { id, comment } => out.run(&client.decide(id, "approve", comment).await?),
        Command::Reject { id, comment } => out.run(&client.decide(id, "reject", comment).await?),
        Command::Artifacts(ArtifactsCommand::Ls { id }) => {
            out.artifacts(&client.artifacts(id).await?);
        }
        Command::Artifacts(ArtifactsCommand::Get { id, name, dir }) => {
            for saved in artifacts::get(client, id, name.as_deref(), &dir).await? {
                eprintln!(
                    "sage: {} ({} bytes, sha256 checked)",
                    saved.path.display(),
                    saved.size
                );
            }
        }
        Command::Tools(ToolsCommand::Ls) => out.tools(&client.tools().await?),
        Command::Tools(ToolsCommand::Run { tool, run }) => {
            let module = tool_module(client, &tool).await?;
            let mut body = params::parse(&run.params, &module.params_schema)?;
            params::ask_for_secrets(&mut body, &module.params_schema)?;
            if let Some(version) = run.version {
                body.insert("version".to_owned(), version.into());
            }
            let submitted_run = client.run_tool(&tool, body).await?;
            return submitted(client, out, &submitted_run, &tool, run.follow).await;
        }
        Command::Tools(ToolsCommand::Latest { tool }) => {
            out.latest(&client.latest_tool_run(&tool).await?);
        }
        Command::Findings(FindingsCommand::Show { fingerprint }) => {
            out.finding(&client.finding(&fingerprint).await?);
        }
        Command::Findings(FindingsCommand::Diff { from, to, limit }) => {
            out.diff(&client.findings_diff(from, to, limit).await?);
        }
        Command::Evidence(command) => return evidence_command(client, out, command).await,
        Command::Findings(FindingsCommand::Ls {
            tool,
            state,
            severity,
            account,
            limit,
        }) => {
            let filters = query(&[
                ("tool", tool),
                ("state", state),
                ("severity", severity),
                ("account", account),
                ("limit", Some(limit.to_string())),
            ]);
            out.values(
                &client.findings(&filters).await?,
                &[
                    "severity", "state", "tool", "check", "resource", "account", "region",
                ],
            );
        }
        Command::Audit(AuditCommand::Ls {
            action,
            actor,
            limit,
        }) => {
            let filters = query(&[
                ("action", action),
                ("actor", actor),
                ("limit", Some(limit.to_string())),
            ]);
            out.values(
                &client.audit(&filters).await?,
                &["id", "at", "actor", "action", "target_type", "target_id"],
            );
        }
        Command::Audit(AuditCommand::Verify) => {
            let report = client.verify_audit().await?;
            out.chain(&report);
            return Ok(u8::from(!report.ok));
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "sage", &mut std::io::stdout());
        }
        Command::Man => {
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            page.render(&mut std::io::stdout())
                .map_err(|e| ClientError::Unreadable(e.to_string()))?;
        }
        Command::Logs { id, follow: false } => {
            out.text(&client.log_text(id).await?);
        }
        Command::Logs { id, follow: true } => {
            let end = follow::follow(client, id).await?;
            eprintln!("sage: run {id} ended {}", describe(&end));
            return Ok(exit_code_of(&end));
        }
    }
    Ok(0)
}

/// A run just submitted: printed, or with `follow` its log until it ends, and the exit
/// code of that end.
async fn submitted(
    client: &Client,
    out: &Output,
    run: &api::ExecutionView,
    name: &str,
    following: bool,
) -> Result<u8, ClientError> {
    if !following {
        out.run(run);
        return Ok(0);
    }
    eprintln!("sage: run {} of {name} is {}", run.id, run.status);
    let end = follow::follow(client, run.id).await?;
    eprintln!("sage: run {} ended {}", run.id, describe(&end));
    Ok(exit_code_of(&end))
}

/// The latest version of a scanner's module, whose schema types its parameters.
async fn tool_module(client: &Client, tool: &str) -> Result<api::ModuleVersionView, ClientError> {
    let not_found = |message: String| ClientError::Refused {
        status: reqwest::StatusCode::NOT_FOUND,
        message,
        fields: Vec::new(),
    };
    let listed = client
        .tools()
        .await?
        .into_iter()
        .find(|t| t.name == tool)
        .ok_or_else(|| not_found(format!("no tool {tool:?} (sage tools ls names them)")))?;
    let id = listed.module_id.ok_or_else(|| {
        not_found(format!(
            "{tool}'s driver is not in the script library, so it has no module"
        ))
    })?;
    client.module(id).await
}

async fn evidence_command(
    client: &Client,
    out: &Output,
    command: EvidenceCommand,
) -> Result<u8, ClientError> {
    fn nonempty<T>(list: Vec<T>) -> Option<Vec<T>> {
        (!list.is_empty()).then_some(list)
    }
    match command {
        EvidenceCommand::Create {
            tools,
            runs,
            scan,
            compliance,
            lang,
            title,
            wait,
            timeout,
            pdf,
            pack,
        } => {
            let request = api::EvidenceRequest {
                compliance,
                execution_ids: nonempty(runs),
                lang,
                max_findings_per_check: None,
                scan_id: scan,
                title,
                tools: nonempty(tools),
            };
            let report = client.create_evidence(&request).await?;
            if !wait {
                out.report(&report);
                return Ok(0);
            }
            let report =
                evidence::wait(client, report.id, std::time::Duration::from_secs(timeout)).await?;
            out.report(&report);
            if report.status != "ready" {
                return Ok(exit::FAILED);
            }
            evidence::download(client, &report, &evidence::Downloads { pdf, pack }).await?;
        }
        EvidenceCommand::Ls { limit } => out.reports(&client.evidence_list(limit).await?),
        EvidenceCommand::Show { id } => out.report(&client.evidence(id).await?),
        EvidenceCommand::Get { id, pdf, pack } => {
            let report = client.evidence(id).await?;
            evidence::download(client, &report, &evidence::Downloads { pdf, pack }).await?;
        }
        EvidenceCommand::Verify { pack, public_key } => {
            let verified = evidence::verify(client, &pack, public_key.as_deref()).await?;
            if verified.problems.is_empty() {
                out.text(&format!(
                    "{}: verified with key {} from {} (the signature, every file as the manifest says, the counts from the findings and the sources)\n",
                    pack.display(),
                    verified.key_id,
                    verified.key_from
                ));
                return Ok(0);
            }
            out.text(&format!(
                "{} does not verify:\n  {}\n",
                pack.display(),
                verified.problems.join("\n  ")
            ));
            return Ok(1);
        }
    }
    Ok(0)
}

/// The filters given, as a query.
fn query<'a>(filters: &[(&'a str, Option<String>)]) -> Vec<(&'a str, String)> {
    filters
        .iter()
        .filter_map(|(name, value)| value.clone().map(|v| (*name, v)))
        .collect()
}

fn describe(end: &End) -> String {
    match (&end.reason, end.exit_code) {
        (Some(reason), Some(code)) => format!("{} ({reason}, exit code {code})", end.status),
        (Some(reason), None) => format!("{} ({reason})", end.status),
        _ => end.status.clone(),
    }
}
