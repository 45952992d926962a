//! The command line as clap reads it: global options, commands and their arguments,
//! each command's help ending with an example.

use clap::{Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use crate::login;

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
