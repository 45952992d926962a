//! A real mail server for tests (aiosmtpd, from Debian's python3-aiosmtpd, which
//! `dev/stack.sh up` installs): STARTTLS with a certificate of a CA made for the test,
//! one user, messages kept as files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Debian's interpreter, where its python3-aiosmtpd is installed.
const PYTHON: &str = "/usr/bin/python3";
const RECEIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/mail/receiver.py");

pub const MAIL_USER: &str = "sage-notifier";
pub const MAIL_PASSWORD: &str = "mail-password-for-tests";

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The message as sent: headers and body.
    pub raw: String,
    /// `mail_from`, `rcpt_tos`, `tls` (whether STARTTLS was on), `login`.
    pub envelope: Value,
}

pub struct MailServer {
    pub port: u16,
    /// The CA that signed the server's certificate, in PEM: a channel trusts it.
    pub ca_pem: String,
    dir: tempfile::TempDir,
    child: Child,
}

#[allow(
    clippy::disallowed_methods,
    reason = "the test kit makes certificates with the openssl CLI"
)]
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, and a certificate for 127.0.0.1 it signed (a self-signed one would be a CA
/// presented as a server, which rustls refuses).
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=sage-test-mail-ca",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .expect("the extensions file is written");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

impl MailServer {
    #[allow(
        clippy::disallowed_methods,
        reason = "the test kit runs the mail server as a process of its own"
    )]
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        certificates(dir.path());
        let inbox = dir.path().join("inbox");
        std::fs::create_dir(&inbox).expect("the inbox is made");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(PYTHON)
            .arg(RECEIVER)
            .arg(port.to_string())
            .arg(dir.path().join("server.pem"))
            .arg(dir.path().join("server.key"))
            .args([MAIL_USER, MAIL_PASSWORD])
            .arg(&inbox)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the mail receiver (dev/stack.sh up installs python3-aiosmtpd)");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("its stdout"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("the receiver says ready");
        assert_eq!(line.trim(), "ready", "the mail receiver did not start");
        let ca_pem = std::fs::read_to_string(dir.path().join("ca.pem")).expect("the CA");
        Self {
            port,
            ca_pem,
            dir,
            child,
        }
    }

    fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.inbox())
            .expect("the inbox")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|eml| Mail {
                raw: std::fs::read_to_string(eml).expect("a message"),
                envelope: serde_json::from_str(
                    &std::fs::read_to_string(eml.with_extension("json")).expect("its envelope"),
                )
                .expect("an envelope in JSON"),
            })
            .collect()
    }

    /// Waits up to `within` for `n` messages.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() > deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
