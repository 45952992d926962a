//! The web console: the single-page app in `app/`, built by `npm run build` into
//! `app/dist`, served by the api on its own origin. Same origin means no CORS and a
//! Content-Security-Policy that allows only `'self'` (plus the OpenID issuer the
//! sign-in talks to). The bundle is read once at start-up; without a build every
//! console page is a short page saying how to build it, never an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

/// Where `npm run build` writes the bundle in a checkout; images set `CONSOLE_DIR`.
pub const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/app/dist");

/// Path prefixes that belong to the API: a browser navigating there gets the API's own
/// answer, never the console's page.
const API_PREFIXES: &[&str] = &[
    "/api/",
    "/oss/",
    "/openapi.json",
    "/health",
    "/ready",
    "/metrics",
];

/// Vite names every file under `assets/` after a hash of its content.
const HASHED_DIR: &str = "/assets/";

pub struct Console {
    /// `index.html` of the bundle; `None` when the console was not built.
    index: Option<Bytes>,
    /// The API reference's page, when the bundle carries its renderer.
    docs: Option<Bytes>,
    /// Every other file of the bundle by its URL path (`/assets/index-3f2a.js`).
    files: HashMap<String, StaticFile>,
    /// The console's policy: scripts, styles and connections from this origin only,
    /// connections also to the origins the sign-in needs.
    page_policy: String,
    dir: PathBuf,
}

struct StaticFile {
    /// Shared by every answer: a request costs a reference count, not a copy.
    body: Bytes,
    content_type: &'static str,
}

impl Console {
    /// Reads the bundle in `dir`. `connect_origins` are the origins beyond this one the
    /// console's scripts may call (the OpenID issuer's discovery and token endpoints).
    pub fn load(dir: &Path, connect_origins: &[String]) -> Self {
        let mut files = HashMap::new();
        collect(dir, dir, &mut files);
        let index = files.remove("/index.html").map(|f| f.body);
        let docs = files.remove("/docs.html").map(|f| f.body);
        match &index {
            Some(_) => {
                tracing::info!(dir = %dir.display(), files = files.len(), "serving the web console")
            }
            None => {
                tracing::warn!(dir = %dir.display(), "the web console is not built: `just console` builds it")
            }
        }
        let connect = std::iter::once("'self'")
            .chain(connect_origins.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            index,
            docs,
            files,
            page_policy: format!(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 font-src 'self'; connect-src {connect}; manifest-src 'self'; base-uri 'none'; \
                 form-action 'self'; frame-ancestors 'none'"
            ),
            dir: dir.to_owned(),
        }
    }

    pub fn is_built(&self) -> bool {
        self.index.is_some()
    }

    /// Registers `/`, the bundle's files and `/docs`.
    pub fn configure(self: &Arc<Self>, config: &mut web::ServiceConfig) {
        let console = self.clone();
        config
            .app_data(web::Data::from(console))
            .route("/", web::get().to(index))
            .route("/docs", web::get().to(docs))
            .route("/{file:(assets|vendor)/.+}", web::get().to(file));
    }

    /// The console's page for a browser navigating to one of its own routes
    /// (`/executions/…` after a reload); `None` for anything else, which stays the
    /// API's to answer.
    pub fn page_for(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let navigating = matches!(*request.method(), Method::GET | Method::HEAD)
            && request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"));
        let path = request.path();
        let console_route = !API_PREFIXES.iter().any(|prefix| path.starts_with(prefix))
            && !path.starts_with(HASHED_DIR)
            && !path.starts_with("/vendor/");
        (navigating && console_route).then(|| self.page())
    }

    fn page(&self) -> HttpResponse {
        match &self.index {
            Some(index) => self
                .secured(HttpResponse::Ok(), &self.page_policy)
                .content_type("text/html; charset=utf-8")
                // The page names the hashed files of this build: always ask again.
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .body(index.clone()),
            None => self
                .secured(HttpResponse::Ok(), NOT_BUILT_POLICY)
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(not_built_page(&self.dir)),
        }
    }

    fn secured(
        &self,
        mut response: actix_web::HttpResponseBuilder,
        policy: &str,
    ) -> actix_web::HttpResponseBuilder {
        response
            .insert_header((header::CONTENT_SECURITY_POLICY, policy.to_owned()))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header(("Cross-Origin-Opener-Policy", "same-origin"));
        response
    }
}

/// The reference renderer sets style attributes from strings, so its page alone allows
/// inline styles; scripts still come from this origin only.
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const NOT_BUILT_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

async fn index(console: web::Data<Console>) -> HttpResponse {
    console.page()
}

async fn docs(console: web::Data<Console>) -> HttpResponse {
    let body = console
        .docs
        .clone()
        .unwrap_or_else(|| Bytes::from_static(DOCS_NOT_BUILT.as_bytes()));
    console
        .secured(HttpResponse::Ok(), DOCS_POLICY)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn file(console: web::Data<Console>, request: HttpRequest) -> HttpResponse {
    let Some(found) = console.files.get(request.path()) else {
        return HttpResponse::build(StatusCode::NOT_FOUND)
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .content_type("text/plain; charset=utf-8")
            .body("no such file in the console's bundle");
    };
    let caching = if request.path().starts_with(HASHED_DIR) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(found.content_type),
        ))
        .insert_header((header::CACHE_CONTROL, caching))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    response.body(found.body.clone())
}

/// Every file under `dir`, keyed by its URL path. Symbolic links are not followed, so
/// the bundle cannot be made to serve a file from elsewhere.
fn collect(root: &Path, dir: &Path, files: &mut HashMap<String, StaticFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect(root, &path, files);
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let (Ok(relative), Ok(body)) = (path.strip_prefix(root), std::fs::read(&path)) else {
            continue;
        };
        let Some(relative) = relative.to_str() else {
            continue;
        };
        let content_type = content_type(&path);
        files.insert(
            format!("/{relative}"),
            StaticFile {
                body: Bytes::from(body),
                content_type,
            },
        );
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn not_built_page(dir: &Path) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sage Runner</title></head>\
         <body style=\"font-family: sans-serif; max-width: 40rem; margin: 3rem auto\">\
         <h1>Sage Runner</h1><p>The API is up, but the web console has not been built, so \
         there is no page to show here.</p><p>Build it with <code>just console</code> (or \
         <code>npm ci &amp;&amp; npm run build</code> in <code>crates/console/app</code>, Node 20) \
         and restart the api; it looks for the bundle in <code>{}</code> (<code>CONSOLE_DIR</code>).</p>\
         <p>The API itself works: see <a href=\"/openapi.json\">/openapi.json</a>.</p></body></html>",
        escape(&dir.display().to_string())
    )
}

const DOCS_NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>Sage Runner API</title></head><body><p>The reference's renderer ships with the web \
    console, which has not been built (<code>just console</code>). The raw spec is at \
    <a href=\"/openapi.json\">/openapi.json</a>.</p></body></html>";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
