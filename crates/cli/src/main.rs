//! `sage`: Sage Runner's command line (`sage --help`; docs/cli.md).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sage_cli::run(sage_cli::Cli::parse()).await
}
