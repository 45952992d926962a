//! `sage-findings`: findings from scanner outputs that already exist.
//!
//!   sage-findings parse [--summary] <files or folders…>
//!   sage-findings pdf <files or folders…> -o report.pdf [--lang ko|en] [--title T] [--fonts DIR]
//!   sage-findings verify PACK.zip --public-key FILE

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use crate::parse::{Input, Parsed, Record, parse_inputs};
use crate::report::{Evidence, FontFiles, Lang, Listing, NANUM_DIR, Words, render};
use crate::summary::Summary;

pub const USAGE: &str = "usage:
  sage-findings parse [--summary] <files or folders…>
  sage-findings pdf <files or folders…> -o report.pdf [--lang ko|en] [--title TEXT] [--fonts DIR]
  sage-findings verify PACK.zip --public-key FILE   (FILE: GET /api/v1/evidence/public-key, saved)
  sage-findings public-key < SEED                   (SEED: the value of EVIDENCE_SIGNING_KEY)";

/// A failure, and whether it was the caller's (exit 2) or the input's (exit 1).
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Failed(String),
}

pub fn run(args: &[String]) -> Result<(), Failure> {
    match args.split_first() {
        Some((command, rest)) if command == "parse" => parse(rest),
        Some((command, rest)) if command == "pdf" => pdf(rest),
        Some((command, rest)) if command == "verify" => verify(rest),
        Some((command, [])) if command == "public-key" => public_key(),
        _ => Err(Failure::Usage(
            "expected a command: parse, pdf, verify or public-key".to_owned(),
        )),
    }
}

/// Prints the public half of the signing key read from stdin (the value of
/// EVIDENCE_SIGNING_KEY: never an argument, which other users of the host can read), as
/// the api serves it.
fn public_key() -> Result<(), Failure> {
    let mut seed = String::new();
    io::Read::read_to_string(&mut io::stdin(), &mut seed).map_err(failed)?;
    let signer = crate::pack::Signer::from_seed(&seed)
        .map_err(|why| Failure::Usage(format!("the key on stdin {why}")))?;
    writeln!(io::stdout(), "{}", signer.public_key().to_json()).map_err(failed)
}

/// Checks an evidence pack offline; prints what holds, or each thing that does not
/// (exit 1).
fn verify(args: &[String]) -> Result<(), Failure> {
    let (pack, key) = match args {
        [pack, flag, key] if flag == "--public-key" => (pack, key),
        [flag, key, pack] if flag == "--public-key" => (pack, key),
        _ => {
            return Err(Failure::Usage(
                "verify takes PACK.zip --public-key FILE".to_owned(),
            ));
        }
    };
    let key = std::fs::read_to_string(key).map_err(|e| failed(format!("{key}: {e}")))?;
    let key = crate::pack::PublicKey::from_json(&key).map_err(failed)?;
    let file = std::fs::File::open(pack).map_err(|e| failed(format!("{pack}: {e}")))?;
    let problems = crate::pack::verify(file, &key).map_err(|e| failed(format!("{pack}: {e}")))?;
    if problems.is_empty() {
        writeln!(
            io::stdout(),
            "{pack}: verified (signed by key {}; every file as the manifest says; the counts follow from the findings and the sources)",
            key.id()
        )
        .map_err(failed)?;
        Ok(())
    } else {
        Err(failed(format!(
            "{pack} does not verify:\n  {}",
            problems.join("\n  ")
        )))
    }
}

/// Options and paths, in any order.
#[derive(Default)]
struct Options {
    summary_only: bool,
    output: Option<PathBuf>,
    lang: Lang,
    title: Option<String>,
    fonts: Option<PathBuf>,
    paths: Vec<Input>,
}

fn options(args: &[String]) -> Result<Options, Failure> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--summary" => options.summary_only = true,
            "-o" | "--output" => options.output = Some(value(arg)?.into()),
            "--lang" => {
                options.lang = value(arg)?
                    .parse()
                    .map_err(|e| Failure::Usage(format!("--lang: {e}")))?
            }
            "--title" => options.title = Some(value(arg)?),
            "--fonts" => options.fonts = Some(value(arg)?.into()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(Failure::Usage(format!("unknown option {flag}")));
            }
            path => options.paths.push(Input::path(path)),
        }
    }
    if options.paths.is_empty() {
        return Err(Failure::Usage(
            "name at least one file or folder".to_owned(),
        ));
    }
    Ok(options)
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Failed(error.to_string())
}

fn parse(args: &[String]) -> Result<(), Failure> {
    let options = options(args)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    let mut write_error = None;
    let parsed = parse_inputs(&options.paths, &mut |record| {
        summary.add(&record);
        if let (false, Record::Finding(finding)) = (options.summary_only, &record) {
            let line = serde_json::to_writer(&mut out, finding)
                .map_err(io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(error) = line {
                write_error.get_or_insert(error);
            }
        }
    })
    .map_err(failed)?;
    if let Some(error) = write_error {
        return Err(failed(error));
    }
    tell_skipped(&parsed);
    serde_json::to_writer(&mut out, &summary.counts).map_err(failed)?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(failed)
}

fn pdf(args: &[String]) -> Result<(), Failure> {
    let options = options(args)?;
    let output = options
        .output
        .clone()
        .ok_or_else(|| Failure::Usage("pdf needs -o <file>".to_owned()))?;
    let mut summary = Summary::default();
    let mut findings = Vec::new();
    let parsed = parse_inputs(&options.paths, &mut |record| {
        summary.add(&record);
        if let Record::Finding(finding) = record {
            findings.push(finding);
        }
    })
    .map_err(failed)?;
    tell_skipped(&parsed);
    let listing = Listing::default();
    let evidence = Evidence {
        title: options.title.as_deref(),
        ..Evidence::of_findings(options.lang, &summary, &findings, &parsed, &listing)
    };
    let fonts = FontFiles::nanum(options.fonts.as_deref().unwrap_or(NANUM_DIR.as_ref()));
    let pdf = render(
        &evidence.blocks(),
        &evidence.title(),
        options.lang.labels().page,
        &fonts,
    )
    .map_err(failed)?;
    std::fs::write(&output, pdf).map_err(|e| failed(format!("{}: {e}", output.display())))?;
    eprintln!(
        "sage-findings: {} findings into {}",
        summary.total,
        output.display()
    );
    Ok(())
}

fn tell_skipped(parsed: &Parsed) {
    for skipped in &parsed.skipped {
        eprintln!(
            "sage-findings: skipped {}: {}",
            skipped.file, skipped.reason
        );
    }
    for source in parsed.sources.iter().filter(|s| s.note.is_some()) {
        eprintln!(
            "sage-findings: {}: {}",
            source.file,
            source.note.as_deref().unwrap_or_default()
        );
    }
}
