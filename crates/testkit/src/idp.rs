//! The identity provider of the console's browser tests (oidc-provider, in
//! `crates/console/app/e2e/idp.ts`) as a process of its own, for tests outside the
//! browser; and a person at a browser, played over HTTP with a cookie jar: they open an
//! address the test was given and submit each page's form (the provider's dev login
//! takes any password) until a page asks nothing more.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use sage_infra::config::Env;

const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../console/app");

/// The console's e2e client ids (see idp.ts).
pub const CLI_CLIENT_ID: &str = "sage-cli";
pub const SCOPES: &str = "openid email profile offline_access sage";

pub struct Idp {
    pub issuer: String,
    child: Child,
}

/// Whether the provider offers the device authorization grant, and to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceGrant {
    Offered,
    NotOffered,
    /// Listed in its discovery document, refused to sage's client (as Keycloak, Okta
    /// and Azure AD list it for every client).
    NotToSage,
}

impl Idp {
    /// Starts the provider on a free port of 127.0.0.1.
    #[allow(
        clippy::disallowed_methods,
        reason = "the test kit runs the provider as a process of its own"
    )]
    pub fn start(device_grant: DeviceGrant) -> Self {
        let port = crate::free_port();
        let mut child = Command::new(format!("{APP}/node_modules/.bin/vite-node"))
            .arg("e2e/idp-serve.ts")
            .current_dir(APP)
            .env("SAGE_IDP_PORT", port.to_string())
            .env(
                "SAGE_IDP_DEVICE_FLOW",
                match device_grant {
                    DeviceGrant::Offered => "on",
                    DeviceGrant::NotOffered => "off",
                    DeviceGrant::NotToSage => "not-to-sage",
                },
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vite-node runs the provider (the console's npm packages: `just console`)");
        let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|line| line.starts_with("ready "))
            .expect("the provider says it is ready");
        // Node dies writing to a closed pipe: what it says later is read and dropped.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            issuer: ready["ready ".len()..].trim().to_owned(),
            child,
        }
    }

    /// The api's settings to take this provider's tokens, with `sage`'s client named.
    pub fn configure(&self, env: &mut Env) {
        env.set("AUTH_MODE", "oidc");
        env.set("OIDC_ISSUER", &self.issuer);
        env.set("OIDC_JWKS_URL", format!("{}/jwks", self.issuer));
        env.set("OIDC_AUDIENCE", "sage-runner");
        env.set("OIDC_ALLOW_HTTP", "true");
        env.set("OIDC_CLI_CLIENT_ID", CLI_CLIENT_ID);
        env.set("OIDC_SCOPES", SCOPES);
        // Required with OIDC, so a deployment says which roles runs may assume.
        env.set(
            "ASSUME_ROLE_ALLOWED",
            "arn:aws:iam::123456789012:role/SageScanner",
        );
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Someone at a browser signing in as `email`: opens `address` and submits every form
/// the pages show, redirects followed (to a loopback callback too), until a page has
/// none. Returns that last page's text.
pub async fn sign_in_at(address: &str, email: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let mut page = browser.get(address).send().await.unwrap();
    for _ in 0..8 {
        let url = page.url().clone();
        let html = page.text().await.unwrap();
        let Some(form) = Form::first(&html) else {
            return html;
        };
        let mut fields = form.hidden;
        if fields
            .iter()
            .any(|(name, value)| name == "prompt" && value == "login")
        {
            fields.push(("login".to_owned(), email.to_owned()));
            fields.push(("password".to_owned(), "any".to_owned()));
        }
        let action = url.join(&form.action).unwrap();
        page = browser.post(action).form(&fields).send().await.unwrap();
        assert!(
            page.status().is_success(),
            "{} answered {}",
            page.url(),
            page.status()
        );
    }
    panic!("the sign-in at {address} asked more than 8 pages");
}

/// A page's first form: where it posts, and its hidden fields.
struct Form {
    action: String,
    hidden: Vec<(String, String)>,
}

impl Form {
    fn first(html: &str) -> Option<Self> {
        let start = html.find("<form")?;
        let end = html[start..]
            .find("</form>")
            .map_or(html.len(), |e| start + e);
        let form = &html[start..end];
        let tag_end = form.find('>')?;
        let action = attribute(&form[..tag_end], "action")?;
        let hidden = form
            .split("<input")
            .skip(1)
            .filter_map(|input| {
                let tag = &input[..input.find('>')?];
                (attribute(tag, "type").as_deref() == Some("hidden"))
                    .then(|| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
                    .flatten()
            })
            .collect();
        Some(Self { action, hidden })
    }
}

/// `name="…"` of a tag, its entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let value = &tag[start..start + tag[start..].find('"')?];
    Some(
        value
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#x2F;", "/")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}
