use std::process::ExitCode;

use sage_findings::cli::{self, Failure};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("sage-findings: {message}\n{}", cli::USAGE);
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("sage-findings: {message}");
            ExitCode::FAILURE
        }
    }
}
