//! `sage`: Sage Runner's command line. Every command is one or a few calls of the
//! api (`client`), with the api's own types (`api`, generated from its contract);
//! tables for people, JSON lines for scripts; exit codes in docs/cli.md.

pub mod api;
mod args;
mod artifacts;
pub mod client;
mod credentials;
mod evidence;
mod follow;
mod login;
mod output;
mod params;

use std::process::ExitCode;

pub use crate::args::{
    ArtifactsCommand, AuditCommand, Cli, Command, EvidenceCommand, FindingsCommand, Format,
    ModulesCommand, RunArgs, RunsCommand, ToolsCommand,
};
use crate::client::{Client, ClientError, Identity};
use crate::follow::End;
use crate::output::Output;

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
