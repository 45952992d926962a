//! The api as `sage` calls it: one typed method per route, the caller's identity on each
//! request, and the api's refusals kept whole (the field and why).

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::api;

/// Who `sage` acts as.
#[derive(Debug, Clone)]
pub enum Identity {
    /// `X-Demo-User`, against an api in demo mode.
    Demo(String),
    /// A bearer token from the deployment's identity provider.
    Token(String),
    Anonymous,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The api refused the request: its status, message and the fields it named.
    #[error("{message}")]
    Refused {
        status: StatusCode,
        message: String,
        fields: Vec<(String, String)>,
    },
    #[error("cannot reach {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error("the api answered something sage does not read: {0}")]
    Unreadable(String),
    /// Signing in failed, or a kept sign-in ended.
    #[error("{0}")]
    SignIn(String),
}

impl From<crate::credentials::StoreError> for ClientError {
    fn from(error: crate::credentials::StoreError) -> Self {
        Self::SignIn(format!("the kept sign-ins: {error}"))
    }
}

impl ClientError {
    /// `field: why` for each field the api named, else its message.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Refused { fields, .. } if !fields.is_empty() => fields
                .iter()
                .map(|(field, why)| format!("{field}: {why}"))
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    identity: Identity,
}

impl Client {
    pub fn new(base: &str, identity: Identity) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            identity,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same api, called as someone else.
    pub fn with_identity(&self, identity: Identity) -> Self {
        Self {
            identity,
            ..self.clone()
        }
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.identity {
            Identity::Demo(email) => request.header("X-Demo-User", email),
            Identity::Token(token) => request.bearer_auth(token),
            Identity::Anonymous => request,
        }
    }

    pub(crate) fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            why: chain(error),
        }
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(refusal(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Unreadable(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.request(Method::GET, path)).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// How the api signs people in (anyone may ask).
    pub async fn sign_in(&self) -> Result<api::SignInView, ClientError> {
        self.get("/api/v1/sign-in").await
    }

    pub async fn me(&self) -> Result<api::MeView, ClientError> {
        self.get("/api/v1/me").await
    }

    pub async fn modules(&self) -> Result<Vec<api::ModuleSummaryView>, ClientError> {
        let mut modules = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/v1/modules?cursor={cursor}"),
                None => "/api/v1/modules".to_owned(),
            };
            let page: api::ListingModuleSummaryView = self.get(&path).await?;
            for item in page.items {
                modules.push(same(item)?);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(modules),
            }
        }
    }

    pub async fn module(&self, id: Uuid) -> Result<api::ModuleVersionView, ClientError> {
        self.get(&format!("/api/v1/modules/{id}")).await
    }

    /// A module by its id or its name.
    pub async fn find_module(
        &self,
        name_or_id: &str,
    ) -> Result<api::ModuleVersionView, ClientError> {
        if let Ok(id) = name_or_id.parse::<Uuid>() {
            return self.module(id).await;
        }
        let found = self
            .modules()
            .await?
            .into_iter()
            .find(|m| m.name == name_or_id)
            .ok_or_else(|| ClientError::Refused {
                status: StatusCode::NOT_FOUND,
                message: format!("no module {name_or_id:?} that you may see"),
                fields: Vec::new(),
            })?;
        self.module(found.id).await
    }

    pub async fn submit(
        &self,
        module: Uuid,
        version: Option<i32>,
        params: serde_json::Map<String, Value>,
    ) -> Result<api::ExecutionView, ClientError> {
        let request = api::RunRequest { params, version };
        self.post(&format!("/api/v1/modules/{module}/executions"), &request)
            .await
    }

    pub async fn runs(
        &self,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<api::ExecutionView>, ClientError> {
        let mut path = format!("/api/v1/executions?limit={limit}");
        if let Some(status) = status {
            path.push_str(&format!("&status={status}"));
        }
        let page: api::ListingExecutionView = self.get(&path).await?;
        page.items.into_iter().map(same).collect()
    }

    pub async fn run(&self, id: Uuid) -> Result<api::ExecutionView, ClientError> {
        self.get(&format!("/api/v1/executions/{id}")).await
    }

    pub async fn cancel(&self, id: Uuid) -> Result<api::ExecutionView, ClientError> {
        self.post(
            &format!("/api/v1/executions/{id}/cancel"),
            &Value::Object(Default::default()),
        )
        .await
    }

    /// Cancels every run that matches, in one request.
    pub async fn cancel_many(
        &self,
        request: &api::CancelManyRequest,
    ) -> Result<api::CancelManyView, ClientError> {
        self.post("/api/v1/executions/cancel", request).await
    }

    /// Approves (`approve`) or rejects (`reject`) a run waiting for approval.
    pub async fn decide(
        &self,
        id: Uuid,
        decision: &str,
        comment: String,
    ) -> Result<api::ExecutionView, ClientError> {
        let body = api::DecisionRequest { comment };
        self.post(&format!("/api/v1/executions/{id}/{decision}"), &body)
            .await
    }

    pub async fn artifacts(&self, id: Uuid) -> Result<Vec<api::ArtifactView>, ClientError> {
        let list: api::ArtifactList = self
            .get(&format!("/api/v1/executions/{id}/artifacts"))
            .await?;
        Ok(list.items)
    }

    /// An artifact's bytes from its presigned URL (no identity: the URL is the grant).
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, ClientError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ClientError::Refused {
                status,
                message: format!("the artifact store answered {status}"),
                fields: Vec::new(),
            });
        }
        Ok(response
            .bytes()
            .await
            .map_err(|e| self.unreachable(&e))?
            .to_vec())
    }

    pub async fn tools(&self) -> Result<Vec<api::ToolView>, ClientError> {
        let list: api::ToolList = self.get("/api/v1/tools").await?;
        Ok(list.items)
    }

    /// Starts a run of a scanner; `body` is its module's parameters, and `version`.
    pub async fn run_tool(
        &self,
        tool: &str,
        body: serde_json::Map<String, Value>,
    ) -> Result<api::ExecutionView, ClientError> {
        self.post(&format!("/api/v1/tools/{tool}/runs"), &body)
            .await
    }

    /// The latest finished run of a scanner, with its counts.
    pub async fn latest_tool_run(&self, tool: &str) -> Result<api::LatestRun, ClientError> {
        self.get(&format!("/api/v1/tools/{tool}/runs/latest")).await
    }

    pub async fn finding(&self, fingerprint: &str) -> Result<api::FindingDetail, ClientError> {
        self.get(&format!("/api/v1/findings/{}", path_segment(fingerprint)))
            .await
    }

    /// What changed from run `from` to run `to` of one scanner.
    pub async fn findings_diff(
        &self,
        from: Uuid,
        to: Uuid,
        limit: u32,
    ) -> Result<api::DiffView, ClientError> {
        let request = self.request(Method::GET, "/api/v1/findings/diff").query(&[
            ("from", from.to_string()),
            ("to", to.to_string()),
            ("limit", limit.to_string()),
        ]);
        self.send(request).await
    }

    pub async fn create_evidence(
        &self,
        request: &api::EvidenceRequest,
    ) -> Result<api::EvidenceView, ClientError> {
        self.post("/api/v1/evidence", request).await
    }

    pub async fn evidence(&self, id: Uuid) -> Result<api::EvidenceView, ClientError> {
        self.get(&format!("/api/v1/evidence/{id}")).await
    }

    pub async fn evidence_list(&self, limit: u32) -> Result<Vec<api::EvidenceView>, ClientError> {
        let page: api::ListingEvidenceView =
            self.get(&format!("/api/v1/evidence?limit={limit}")).await?;
        page.items.into_iter().map(same).collect()
    }

    /// The signed pack of a report, with a fresh download link.
    pub async fn evidence_pack(&self, id: Uuid) -> Result<api::ArtifactView, ClientError> {
        self.get(&format!("/api/v1/evidence/{id}/pack")).await
    }

    /// The public key packs are signed with: `key_id`'s, else the latest used.
    pub async fn evidence_key(&self, key_id: Option<&str>) -> Result<Value, ClientError> {
        let request = self.request(Method::GET, "/api/v1/evidence/public-key");
        let request = match key_id {
            Some(id) => request.query(&[("key_id", id)]),
            None => request,
        };
        let key: api::PublicKeyView = self.send(request).await?;
        same(key)
    }

    /// A page of findings; `filters` are the route's own query (`tool=prowler&state=new`).
    pub async fn findings(&self, filters: &[(&str, String)]) -> Result<Vec<Value>, ClientError> {
        let request = self.request(Method::GET, "/api/v1/findings").query(filters);
        let page: api::ListingFindingView = self.send(request).await?;
        page.items.into_iter().map(same).collect()
    }

    pub async fn audit(&self, filters: &[(&str, String)]) -> Result<Vec<Value>, ClientError> {
        let request = self.request(Method::GET, "/api/v1/audit").query(filters);
        let page: api::ListingAuditEventView = self.send(request).await?;
        page.items.into_iter().map(same).collect()
    }

    pub async fn verify_audit(&self) -> Result<api::ChainReportView, ClientError> {
        self.get("/api/v1/audit/verify").await
    }

    /// The whole log as text.
    pub async fn log_text(&self, id: Uuid) -> Result<String, ClientError> {
        let response = self
            .request(
                Method::GET,
                &format!("/api/v1/executions/{id}/logs?format=text"),
            )
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(refusal(status, &body));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// `text` as one segment of a URL path.
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// An error and each of its causes (reqwest's own message leaves out why a request
/// failed: refused, reset, a certificate).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// A list's item as the type of its own schema: the contract writes a list's items in
/// full (`Listing<T>` inlines `T`), so they are generated as a type of their own.
fn same<T: Serialize, U: DeserializeOwned>(item: T) -> Result<U, ClientError> {
    serde_json::to_value(item)
        .and_then(serde_json::from_value)
        .map_err(|e| ClientError::Unreadable(e.to_string()))
}

/// The api's refusal: `{"error": {"code", "message", "fields": [{"field", "message"}]}}`.
pub(crate) fn refusal(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<api::ErrorBody>(body) {
        Ok(error) => ClientError::Refused {
            status,
            message: error.error.message,
            fields: error
                .error
                .fields
                .into_iter()
                .map(|f| (f.field, f.message))
                .collect(),
        },
        Err(_) => ClientError::Refused {
            status,
            message: format!("the api answered {status}"),
            fields: Vec::new(),
        },
    }
}
