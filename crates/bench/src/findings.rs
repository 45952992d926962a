//! Findings: `sage-findings parse --summary` over a generated Prowler OCSF file of
//! 100,000 findings beside `jq length` of the same file (rate and peak memory), and the
//! evidence PDF of 10,000 findings with the fonts subset beside embedding them whole.

// The command and jq run as measured child processes; no container is involved.
#![allow(clippy::disallowed_methods)]

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sage_findings::parse::{Input, parse_inputs};
use sage_findings::report::{Evidence, FontFiles, Lang, Listing, NANUM_DIR, render};
use sage_findings::summary::Summary;
use sage_findings::{Finding, Record};
use serde_json::Value;

use crate::stats::row;

const PARSE_FINDINGS: usize = 100_000;
const PDF_FINDINGS: usize = 10_000;

pub fn run() -> anyhow::Result<()> {
    let out = Path::new("bench-out");
    std::fs::create_dir_all(out)?;
    let big = out.join("prowler-100k.ocsf.json");
    let bytes = generate(&big, PARSE_FINDINGS)?;
    let mb = bytes as f64 / 1e6;

    let binary = sibling_binary("sage-findings")?;
    let ours = measured(Command::new(&binary).args(["parse", "--summary"]).arg(&big))?;
    let jq = measured(Command::new("jq").arg("length").arg(&big))?;
    println!(
        "\nfindings: parse {PARSE_FINDINGS} Prowler OCSF findings ({mb:.0} MB)\n  {:<28} {:>17} {:>17} {:>8}",
        "", "sage-findings", "jq length", "ratio"
    );
    row("time", ours.seconds, jq.seconds, "s");
    row(
        "findings per second",
        PARSE_FINDINGS as f64 / ours.seconds,
        PARSE_FINDINGS as f64 / jq.seconds,
        "/s",
    );
    row("MB per second", mb / ours.seconds, mb / jq.seconds, "MB/s");
    row("peak memory", ours.peak_mb, jq.peak_mb, "MB");

    let small = out.join("prowler-10k.ocsf.json");
    generate(&small, PDF_FINDINGS)?;
    let mut summary = Summary::default();
    let mut findings: Vec<Finding> = Vec::new();
    let parsed = parse_inputs(&[Input::path(&small)], &mut |record| {
        summary.add(&record);
        if let Record::Finding(f) = record {
            findings.push(f);
        }
    })?;
    let listing = Listing::default();
    let evidence = Evidence::of_findings(Lang::Ko, &summary, &findings, &parsed, &listing);
    let blocks = evidence.blocks();
    let subset = FontFiles::nanum(Path::new(NANUM_DIR));
    let whole = FontFiles {
        subset: false,
        ..subset.clone()
    };
    let mut figures = Vec::new();
    for fonts in [&subset, &whole] {
        let started = Instant::now();
        let pdf = render(&blocks, &evidence.title(), "페이지", fonts)?;
        figures.push((started.elapsed().as_secs_f64(), pdf.len() as f64 / 1e6));
    }
    println!(
        "\nfindings: evidence PDF of {PDF_FINDINGS} findings (Korean labels)\n  {:<28} {:>17} {:>17} {:>8}",
        "", "fonts subset", "fonts whole", "ratio"
    );
    row("render time", figures[0].0, figures[1].0, "s");
    row("file size", figures[0].1, figures[1].1, "MB");
    Ok(())
}

/// A Prowler OCSF array of `count` findings, cycling through the real example's
/// findings with a unique `finding_info.uid` each; returns its size in bytes.
fn generate(path: &Path, count: usize) -> anyhow::Result<u64> {
    let example = include_str!(
        "../../findings/tests/fixtures/prowler/prowler-examples-v5/example_output_aws.ocsf.json"
    );
    let findings: Vec<Value> = serde_json::from_str(example)?;
    write_array(path, count, |i| {
        let mut finding = findings[i % findings.len()].clone();
        finding["finding_info"]["uid"] = Value::String(format!("prowler-bench-{i}"));
        finding
    })
}

/// Writes a JSON array of `count` elements, `element(i)` each, one per line; returns
/// the file's size in bytes.
pub fn write_array(
    path: &Path,
    count: usize,
    mut element: impl FnMut(usize) -> Value,
) -> anyhow::Result<u64> {
    let mut file = BufWriter::new(std::fs::File::create(path)?);
    file.write_all(b"[\n")?;
    for i in 0..count {
        if i > 0 {
            file.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut file, &element(i))?;
    }
    file.write_all(b"\n]\n")?;
    file.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

pub struct Measured {
    pub seconds: f64,
    pub peak_mb: f64,
}

/// Runs `command` under GNU time for its elapsed time and peak resident memory.
pub fn measured(command: &mut Command) -> anyhow::Result<Measured> {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%e %M"])
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(name, value),
            None => timed.env_remove(name),
        };
    }
    let output = timed.stdout(std::process::Stdio::null()).output()?;
    anyhow::ensure!(
        output.status.success(),
        "{:?} failed: {}",
        command,
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let mut fields = last.split_whitespace();
    let seconds: f64 = fields.next().unwrap_or_default().parse()?;
    let kilobytes: f64 = fields.next().unwrap_or_default().parse()?;
    Ok(Measured {
        seconds,
        peak_mb: kilobytes / 1024.0,
    })
}

/// A binary of the workspace built beside this one (`just bench` builds it).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name(name);
    anyhow::ensure!(
        path.is_file(),
        "{} is missing: cargo build --release -p sage-findings",
        path.display()
    );
    Ok(path)
}
