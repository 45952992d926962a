//! Evidence packs: one built from real scanner outputs verifies offline with the public
//! key alone, through the library and the command; each tampering (a byte of a source,
//! a finding line, the manifest, the signature, a file added) is named.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The command itself runs here: no container is involved.
#![allow(clippy::disallowed_methods)]

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sage_findings::pack::{Content, Manifest, PublicKey, Signer, verify, write_pack};
use sage_findings::parse::{Input, Record, parse_inputs};
use sage_findings::report::{Evidence, FontFiles, Lang, Listing, NANUM_DIR, Words as _, render};
use sage_findings::summary::Summary;
use sage_findings::{Status, Tool};
use serde_json::json;

/// A fixed test seed: 32 bytes of 7, in base64.
const SEED: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// A pack over two real outputs, as a worker builds one.
fn pack() -> Vec<u8> {
    packed(false)
}

/// A pack whose PDF, when `pdf_misses_a_failure`, counts one failing Prowler finding
/// fewer than `findings.jsonl`, yet is signed as the deployment would sign it.
fn packed(pdf_misses_a_failure: bool) -> Vec<u8> {
    let sources = [
        (
            "prowler.ocsf.json",
            fixture("prowler/prowler-examples-v5/example_output_aws.ocsf.json"),
        ),
        (
            "custodian",
            fixture("custodian/samsongudise-c7n-0.8.40-aws"),
        ),
    ];
    let run = tempfile::tempdir().unwrap();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (name, path) in &sources {
        if path.is_dir() {
            for entry in walk(path) {
                let relative = entry.strip_prefix(path).unwrap();
                let target = run.path().join(name).join(relative);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(&entry, &target).unwrap();
            }
        } else {
            std::fs::copy(path, run.path().join(name)).unwrap();
        }
    }
    let mut summary = Summary::default();
    let mut reported = Summary::default();
    let mut findings = Vec::new();
    let mut parsed_findings = Vec::new();
    let mut missed = !pdf_misses_a_failure;
    let parsed = parse_inputs(
        &[Input {
            path: run.path().to_owned(),
            label: String::new(),
            run: Some("run-1".to_owned()),
            account: None,
        }],
        &mut |record| {
            summary.add(&record);
            if let Record::Finding(f) = &record {
                if !missed && f.status == Status::Fail && f.tool == Tool::Prowler {
                    missed = true;
                } else {
                    reported.add(&record);
                }
                findings.push(serde_json::to_string(f).unwrap());
                parsed_findings.push(f.clone());
            }
        },
    )
    .unwrap();
    for entry in walk(run.path()) {
        let relative = entry
            .strip_prefix(run.path())
            .unwrap()
            .display()
            .to_string();
        files.push((format!("sources/run-1/{relative}"), entry));
    }
    let listing = Listing::default();
    let evidence = Evidence::of_findings(Lang::Ko, &reported, &parsed_findings, &parsed, &listing);
    let pdf = render(
        &evidence.blocks(),
        &evidence.title(),
        Lang::Ko.labels().page,
        &FontFiles::nanum(Path::new(NANUM_DIR)),
    )
    .unwrap();
    let lines = findings.join("\n") + "\n";
    let summary =
        serde_json::to_vec(&json!({"total": summary.total, "counts": summary.counts})).unwrap();
    let mut contents: Vec<(String, Content<'_>)> = vec![
        ("report.pdf".to_owned(), Content::Bytes(&pdf)),
        ("summary.json".to_owned(), Content::Bytes(&summary)),
        (
            "findings.jsonl".to_owned(),
            Content::Bytes(lines.as_bytes()),
        ),
    ];
    contents.extend(
        files
            .iter()
            .map(|(name, path)| (name.clone(), Content::File(path))),
    );
    let manifest = Manifest {
        format: sage_findings::pack::FORMAT.to_owned(),
        evidence_id: "e-1".to_owned(),
        generated_at: chrono::Utc::now(),
        key_id: String::new(),
        parameters: json!({"tools": null, "lang": "ko"}),
        runs: json!([{"execution_id": "run-1"}]),
        audit_head: json!({"id": 42, "hash": "ab".repeat(32)}),
        files: Vec::new(),
    };
    let mut out = Cursor::new(Vec::new());
    write_pack(
        &mut out,
        &contents,
        manifest,
        &Signer::from_seed(SEED).unwrap(),
    )
    .unwrap();
    out.into_inner()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

fn key() -> PublicKey {
    Signer::from_seed(SEED).unwrap().public_key()
}

/// The pack with `name` changed by `change` (or added when missing), every other entry
/// as it was.
fn tampered(pack: &[u8], name: &str, change: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(Cursor::new(pack)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let mut seen = false;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let entry_name = entry.name().to_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if entry_name == name {
            change(&mut bytes);
            seen = true;
        }
        out.start_file(entry_name, options).unwrap();
        out.write_all(&bytes).unwrap();
    }
    if !seen {
        let mut bytes = Vec::new();
        change(&mut bytes);
        out.start_file(name, options).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn a_pack_verifies_offline_and_every_tampering_is_named() {
    let pack = pack();
    assert_eq!(
        verify(Cursor::new(&pack), &key()).unwrap(),
        Vec::<String>::new()
    );

    let source = "sources/run-1/prowler.ocsf.json";
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "a byte of a source",
            tampered(&pack, source, |b| b[100] ^= 1),
            vec![source],
        ),
        (
            "a finding line",
            tampered(&pack, "findings.jsonl", |b| {
                let text = String::from_utf8(b.clone()).unwrap();
                *b = text.replacen("\"fail\"", "\"pass\"", 1).into_bytes();
            }),
            vec![
                "findings.jsonl: sha256",
                "summary.json: its counts",
                "findings.jsonl: not what the sources read",
            ],
        ),
        (
            "the manifest",
            tampered(&pack, "manifest.json", |b| {
                let text = String::from_utf8(b.clone()).unwrap();
                *b = text.replacen("\"ko\"", "\"en\"", 1).into_bytes();
            }),
            vec!["manifest.sig: the signature does not match"],
        ),
        (
            "the signature",
            tampered(&pack, "manifest.sig", |b| {
                b[3] = if b[3] == b'A' { b'B' } else { b'A' }
            }),
            vec!["manifest.sig: the signature does not match"],
        ),
        (
            "a file added",
            tampered(&pack, "sources/run-1/extra.json", |b| {
                b.extend_from_slice(b"[]")
            }),
            vec!["sources/run-1/extra.json: in the pack but not in the manifest"],
        ),
    ];
    for (what, pack, expected) in cases {
        let problems = verify(Cursor::new(&pack), &key()).unwrap();
        for needle in expected {
            assert!(
                problems.iter().any(|p| p.starts_with(needle)),
                "{what}: no problem starting {needle:?} in {problems:#?}"
            );
        }
    }
    // Another deployment's key does not verify it.
    let other = Signer::from_seed("CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=")
        .unwrap()
        .public_key();
    let problems = verify(Cursor::new(&pack), &other).unwrap();
    assert!(
        problems.iter().any(|p| p.contains("not by the key given")),
        "{problems:?}"
    );
}

#[test]
fn a_signed_pdf_whose_figures_are_not_those_of_the_findings_is_named() {
    let problems = verify(Cursor::new(packed(true)), &key()).unwrap();
    // Prowler's row, the total and the severity of the finding left out; nothing else.
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems
            .iter()
            .all(|p| p.starts_with("report.pdf: its table by ")),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("prowler | ")),
        "{problems:#?}"
    );
}

#[test]
fn the_command_verifies_a_pack_and_names_what_does_not_hold() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("pack.zip");
    std::fs::write(&good, pack()).unwrap();
    let key_file = dir.path().join("public-key.json");
    std::fs::write(&key_file, key().to_json().to_string()).unwrap();
    let run = |pack: &Path| {
        Command::new(env!("CARGO_BIN_EXE_sage-findings"))
            .arg("verify")
            .arg(pack)
            .arg("--public-key")
            .arg(&key_file)
            .output()
            .unwrap()
    };
    let output = run(&good);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("verified"));

    let bad = dir.path().join("bad.zip");
    std::fs::write(
        &bad,
        tampered(&std::fs::read(&good).unwrap(), "report.pdf", |b| {
            b.push(b'x')
        }),
    )
    .unwrap();
    let output = run(&bad);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("report.pdf: sha256"), "{said}");
}
