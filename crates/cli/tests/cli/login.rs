//! `sage login` through the local identity provider: the device grant, the browser on a
//! loopback redirect, a token renewed, a sign-out revoked, and the refusals.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use sage_testkit::idp::{DeviceGrant, Idp, sign_in_at};
use sage_testkit::{TestApp, spawn_app, spawn_app_with, test_env};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr};

use crate::{assert_refused, text};

const EMAIL: &str = "cli-user@example.com";

#[allow(
    clippy::disallowed_methods,
    reason = "the test runs the command line it tests"
)]
fn command(app: &TestApp, config: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sage"));
    command
        .args(["--url", &app.address])
        .args(args)
        .env("SAGE_CONFIG_DIR", config)
        .env_remove("SAGE_URL")
        .env_remove("SAGE_TOKEN")
        .env_remove("SAGE_DEMO_USER")
        .kill_on_drop(true);
    command
}

/// `sage` as the person signed in (or not) in `config`.
async fn sage(app: &TestApp, config: &Path, args: &[&str]) -> Output {
    tokio::time::timeout(Duration::from_secs(60), command(app, config, args).output())
        .await
        .expect("sage ends within a minute")
        .expect("sage runs")
}

/// `sage login` started, its stderr read as it comes.
fn login(app: &TestApp, config: &Path, args: &[&str]) -> (Child, Lines<BufReader<ChildStderr>>) {
    let mut all = vec!["login"];
    all.extend_from_slice(args);
    let mut child = command(app, config, &all)
        .stderr(Stdio::piped())
        .spawn()
        .expect("sage runs");
    let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, stderr)
}

/// The first line of stderr that `pick` takes something from.
async fn read_until<T>(
    lines: &mut Lines<BufReader<ChildStderr>>,
    mut pick: impl FnMut(&str) -> Option<T>,
) -> T {
    let mut seen = Vec::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("sage says something within 30 s")
            .unwrap()
            .unwrap_or_else(|| panic!("sage ended saying: {seen:?}"));
        if let Some(found) = pick(&line) {
            return found;
        }
        seen.push(line);
    }
}

async fn ended(mut child: Child, mut lines: Lines<BufReader<ChildStderr>>) -> (i32, String) {
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("sage ends")
        .unwrap();
    (status.code().unwrap(), rest)
}

fn kept(config: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(config.join("credentials.json")).unwrap()).unwrap()
}

async fn whoami(app: &TestApp, config: &Path) -> Output {
    sage(app, config, &["whoami", "--output", "json"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_grant_signs_in_renews_and_signs_out_with_revocation() {
    let idp = Idp::start(DeviceGrant::Offered);
    let mut env = test_env();
    idp.configure(&mut env);
    let app = spawn_app_with(env).await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("sage");

    // Nobody is signed in yet: the api refuses, by its 401.
    let anonymous = whoami(&app, &config).await;
    assert_eq!(
        anonymous.status.code(),
        Some(100),
        "{}",
        text(&anonymous.stderr)
    );

    let (child, mut stderr) = login(&app, &config, &[]);
    let (address, code) = read_until(&mut stderr, |line| {
        let rest = line.strip_prefix("sage: to sign in, open ")?;
        let (address, rest) = rest.split_once(" in a browser and confirm the code ")?;
        Some((address.to_owned(), rest.split(' ').next()?.to_owned()))
    })
    .await;
    assert!(
        address.starts_with(&format!("{}/device", idp.issuer)),
        "{address}"
    );
    assert!(
        address.ends_with(&code),
        "{address} carries the code {code}"
    );
    let page = sign_in_at(&address, EMAIL).await;
    assert!(page.contains("Sign-in Success"), "{page}");
    let (status, said) = ended(child, stderr).await;
    assert_eq!(status, 0, "{said}");
    assert!(
        said.contains(&format!("signed in to {} as {EMAIL}", app.address)),
        "{said}"
    );

    // Kept for this address alone, readable by the user alone.
    let file = config.join("credentials.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let first = kept(&config)[&app.address].clone();
    assert_eq!(first["email"], EMAIL);
    assert!(first["refresh_token"].is_string(), "{first}");

    let me = whoami(&app, &config).await;
    assert_eq!(me.status.code(), Some(0), "{}", text(&me.stderr));
    let me: Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(me["email"], EMAIL);

    // A token about to expire is renewed with the refresh token before it is used.
    let mut all = kept(&config);
    all[&app.address]["expires_at"] = Value::from("2020-01-01T00:00:00Z");
    std::fs::write(&file, serde_json::to_vec(&all).unwrap()).unwrap();
    let me = whoami(&app, &config).await;
    assert_eq!(me.status.code(), Some(0), "{}", text(&me.stderr));
    let renewed = kept(&config)[&app.address].clone();
    assert_ne!(renewed["access_token"], first["access_token"]);
    assert!(
        renewed["expires_at"].as_str().unwrap() > "2026",
        "{renewed}"
    );

    // Signing out forgets the sign-in and revokes it: the kept refresh token, put back
    // by hand, no longer renews anything, and sage says the sign-in has ended.
    let stale = kept(&config);
    let out = sage(&app, &config, &["logout"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "{EMAIL} signed out of {}; the issuer revoked the refresh token; it revokes no access token, so the last one lives until 20",
            app.address
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(kept(&config).get(&app.address).is_none());
    let mut restored = stale;
    restored[&app.address]["expires_at"] = Value::from("2020-01-01T00:00:00Z");
    std::fs::write(&file, serde_json::to_vec(&restored).unwrap()).unwrap();
    let ended_sign_in = whoami(&app, &config).await;
    assert_eq!(ended_sign_in.status.code(), Some(100));
    assert!(
        text(&ended_sign_in.stderr).contains(&format!(
            "your sign-in to {} has ended (invalid_grant",
            app.address
        )),
        "{}",
        text(&ended_sign_in.stderr)
    );
    assert!(
        kept(&config).get(&app.address).is_none(),
        "an ended sign-in is forgotten"
    );
    let again = sage(&app, &config, &["logout"]).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stderr).contains("nobody is signed in"),
        "{}",
        text(&again.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_device_grant_a_browser_signs_in_through_a_loopback_redirect() {
    let idp = Idp::start(DeviceGrant::NotOffered);
    let mut env = test_env();
    idp.configure(&mut env);
    let app = spawn_app_with(env).await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("sage");

    let refused = sage(&app, &config, &["login", "--flow", "device"]).await;
    assert_refused(
        &refused,
        "offers no device authorization grant: use --flow browser",
    );

    let (child, mut stderr) = login(&app, &config, &[]);
    read_until(&mut stderr, |line| {
        line.contains("open this address in a browser on this machine")
            .then_some(())
    })
    .await;
    let address = read_until(&mut stderr, |line| Some(line.trim().to_owned())).await;
    let authorize = reqwest::Url::parse(&address).unwrap();
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["client_id"], "sage-cli");
    let callback = reqwest::Url::parse(&query["redirect_uri"]).unwrap();
    assert_eq!(callback.host_str(), Some("127.0.0.1"));

    // Someone else at the port, without this sign-in's state, is turned away, and sage
    // keeps waiting for the real one.
    let stranger = reqwest::get(format!("{callback}?code=forged&state=wrong"))
        .await
        .unwrap();
    assert_eq!(stranger.status(), 400);

    let page = sign_in_at(&address, EMAIL).await;
    assert!(page.contains("Signed in to sage"), "{page}");
    let (status, said) = ended(child, stderr).await;
    assert_eq!(status, 0, "{said}");
    let me = whoami(&app, &config).await;
    assert_eq!(me.status.code(), Some(0), "{}", text(&me.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&me.stdout).unwrap()["email"],
        EMAIL
    );

    // The issuer down when a renewal is due: sage says so and keeps the sign-in for
    // the next try.
    drop(idp);
    let file = config.join("credentials.json");
    let mut all = kept(&config);
    all[&app.address]["expires_at"] = Value::from("2020-01-01T00:00:00Z");
    std::fs::write(&file, serde_json::to_vec(&all).unwrap()).unwrap();
    let down = whoami(&app, &config).await;
    assert_eq!(down.status.code(), Some(101), "{}", text(&down.stderr));
    assert!(
        text(&down.stderr).contains("/token"),
        "{}",
        text(&down.stderr)
    );
    assert_eq!(
        kept(&config)[&app.address]["refresh_token"],
        all[&app.address]["refresh_token"]
    );

    // An api in demo mode signs nobody in, and says how to act there.
    let demo = spawn_app().await;
    let refused = sage(&demo, &config, &["login"]).await;
    assert_refused(&refused, "it runs in demo mode (use --demo-user EMAIL)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_grant_listed_but_refused_to_sage_falls_back_to_the_browser() {
    let idp = Idp::start(DeviceGrant::NotToSage);
    let mut env = test_env();
    idp.configure(&mut env);
    let app = spawn_app_with(env).await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("sage");

    let forced = sage(&app, &config, &["login", "--flow", "device"]).await;
    assert_refused(
        &forced,
        "the issuer refused to start a sign-in: invalid_request",
    );

    let (child, mut stderr) = login(&app, &config, &[]);
    read_until(&mut stderr, |line| {
        line.contains("lists the device grant but refused it to this client (invalid_request")
            .then_some(())
    })
    .await;
    read_until(&mut stderr, |line| {
        line.contains("open this address in a browser")
            .then_some(())
    })
    .await;
    let address = read_until(&mut stderr, |line| Some(line.trim().to_owned())).await;
    assert!(
        sign_in_at(&address, EMAIL)
            .await
            .contains("Signed in to sage")
    );
    let (status, said) = ended(child, stderr).await;
    assert_eq!(status, 0, "{said}");
    assert_eq!(kept(&config)[&app.address]["email"], EMAIL);
}
