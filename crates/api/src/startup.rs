//! Building the application: connections, migrations, the HTTP server on its own
//! listener (port 0 in tests), and a clean stop.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpServer, web};
use anyhow::Context;
use sage_console::Console;
use sage_infra::amqp::Broker;
use sage_store::Db;
use sage_store::outbox::Webhook;
use tokio_util::sync::CancellationToken;

use crate::background::webhook::WebhookRelay;
use crate::http::error::{self, ApiError};
use crate::http::request_id;
use crate::identity::auth::Authenticator;
use crate::routes;
use crate::routes::sign_in::SignInView;
use crate::settings::Settings;
use crate::state::{AppState, ArtifactLinks, CatalogRules, RunRules};

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on its own listener, when it is served.
    metrics: Option<MetricsServer>,
    state: AppState,
    /// Stops the background tasks (webhook and job relays, approval expiry) once the
    /// server has stopped.
    shutdown: CancellationToken,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let state = connect(&settings).await?;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {} (API_BIND)", settings.bind))?;
        let port = listener.local_addr()?.port();
        let app_state = state.clone();
        let console = Arc::new(Console::load(
            &settings.console_dir,
            &crate::routes::sign_in::connect_origins(&settings.auth),
        ));
        // How the console signs in: fixed at start, answered by its own route.
        let sign_in = web::Data::new(SignInView::new(&settings));
        let server = HttpServer::new(move || {
            let console = console.clone();
            App::new()
                .app_data(web::Data::new(app_state.clone()))
                .app_data(sign_in.clone())
                .app_data(web::Data::from(app_state.metrics.clone()))
                .app_data(web::PayloadConfig::new(crate::http::extract::JSON_LIMIT))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .wrap(from_fn(crate::http::metrics::middleware))
                .wrap(from_fn(request_id::middleware))
                .configure(routes::configure)
                .configure(|config| console.configure(config))
                .default_service(web::to(move |request: HttpRequest| {
                    // A reload of a console route is the console's page; the rest is
                    // the API's 404.
                    let page = console.page_for(&request);
                    async move { page.ok_or(ApiError::NotFound) }
                }))
        })
        // A live log writes small pieces as they come: without TCP_NODELAY, Nagle holds
        // each piece until the client's delayed ACK of the previous one (up to 40 ms).
        .tcp_nodelay(true)
        .listen(listener)?
        .shutdown_timeout(settings.common.shutdown_grace.as_secs())
        .run();
        tracing::info!(port, "api listening");
        let metrics = match settings.metrics_bind {
            Some(bind) => Some(MetricsServer::start(bind, state.clone())?),
            None => None,
        };
        let shutdown = CancellationToken::new();
        let webhooks = [
            (Webhook::Siem, &settings.siem),
            (Webhook::Approvals, &settings.approval_webhook),
        ];
        for (webhook, receiver) in webhooks {
            let relay = WebhookRelay::new(state.db.clone(), webhook, receiver.clone())
                .counting_failures(state.metrics.clone());
            tokio::spawn(relay.run(shutdown.clone()));
        }
        let jobs = crate::background::relay::JobRelay::new(
            state.db.clone(),
            state.broker.clone(),
            settings.queue_ahead,
        );
        tokio::spawn(jobs.run(shutdown.clone()));
        tokio::spawn(crate::background::approvals::expire_until_stopped(
            state.db.clone(),
            state.metrics.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(crate::background::scans::dispatch_until_stopped(
            state.db.clone(),
            settings.scan_retries,
            shutdown.clone(),
        ));
        let notifier = crate::background::notifications::Notifier::new(
            state.db.clone(),
            state.runs.secrets.clone(),
            settings.notify.clone(),
        );
        tokio::spawn(notifier.run(shutdown.clone()));
        tokio::spawn(crate::background::retention::purge_until_stopped(
            state.db.clone(),
            state.artifacts.clone(),
            settings.retention,
            shutdown.clone(),
        ));
        tokio::spawn(crate::background::schedules::fire_until_stopped(
            state.clone(),
            shutdown.clone(),
        ));
        Ok(Self {
            port,
            server,
            metrics,
            state,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, when it is.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|metrics| metrics.port)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish within
    /// SHUTDOWN_GRACE_SEC.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let outcome = self.server.await;
        self.shutdown.cancel();
        if let Some(metrics) = self.metrics {
            metrics.server.stop(true).await;
        }
        outcome
    }
}

/// The scrape endpoint, apart from the API so that only the scraper's network reaches
/// it (the worker's is served the same way): it answers `/metrics` and nothing else.
struct MetricsServer {
    port: u16,
    server: ServerHandle,
}

impl MetricsServer {
    fn start(bind: std::net::SocketAddr, state: AppState) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(bind)
            .with_context(|| format!("cannot listen on {bind} (API_METRICS_BIND)"))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .route("/metrics", web::get().to(routes::service::metrics))
        })
        .workers(1)
        // The API's server takes the signals and stops this one after it.
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        tracing::info!(port, "serving /metrics");
        Ok(Self {
            port,
            server: handle,
        })
    }
}

/// Connects to PostgreSQL and applies the migrations it lacks (under an advisory lock,
/// so replicas starting together take turns). `sage-api migrate` is this alone.
pub async fn migrated_database(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database).context("DATABASE_URL: cannot build the pool")?;
    db.check()
        .await
        .context("cannot reach PostgreSQL (DATABASE_URL)")?;
    sage_store::migrate(&db)
        .await
        .context("applying database migrations")?;
    Ok(db)
}

/// PostgreSQL must answer at start (migrations run here); RabbitMQ, Redis and S3 may be
/// down: the api starts anyway, reports them in `/ready` and uses them once they are up.
async fn connect(settings: &Settings) -> anyhow::Result<AppState> {
    let common = &settings.common;
    match &settings.auth {
        crate::settings::AuthMode::DemoHeader => tracing::warn!(
            "AUTH_MODE=demo_header: anyone who can reach the api can act as any user; local demos only"
        ),
        crate::settings::AuthMode::Oidc(oidc) if oidc.allow_http => tracing::warn!(
            "OIDC_ALLOW_HTTP=true: the issuer's keys travel over plain http; local tests only"
        ),
        crate::settings::AuthMode::Oidc(_) => {}
    }
    let db = migrated_database(settings).await?;
    if db
        .seal_unkeyed_audit_trail()
        .await
        .context("sealing the audit trail written before it was keyed")?
    {
        tracing::info!("the audit trail written before AUDIT_KEY now ends with a keyed event");
    }
    for email in &settings.admin_emails {
        db.ensure_user(email, &["admin"]).await?;
    }
    for email in &settings.seed_users {
        db.ensure_user(email, &[]).await?;
    }
    crate::catalog::builtin::install_tools(&db, &common.scripts_dir, &settings.limit_ceiling).await;
    let redis = common
        .redis
        .client()
        .context("REDIS_URL: cannot build the client")?;
    let s3 = common.s3.client().await;
    if let Err(error) = sage_infra::s3::ensure_bucket(&s3, &common.s3.bucket).await {
        tracing::warn!(%error, "S3 is not usable yet; artifacts wait until it is");
    }
    let presigner = match &settings.s3_public_endpoint {
        None => s3.clone(),
        Some(public) => {
            let mut public_settings = common.s3.clone();
            public_settings.endpoint = Some(public.clone());
            public_settings.client().await
        }
    };
    Ok(AppState {
        readiness: Arc::default(),
        live: crate::background::live::Live::start(
            redis.clone(),
            db.clone(),
            settings.stream_limits,
            settings.stream_keepalive,
        ),
        db,
        broker: Arc::new(Broker::new(common.amqp.clone())),
        redis,
        artifacts: ArtifactLinks {
            s3,
            presigner,
            bucket: common.s3.bucket.clone(),
            ttl: settings.artifact_url_ttl,
        },
        runs: RunRules {
            approval_ttl: settings.approval_ttl,
            in_flight: settings.in_flight,
            acceptance_max_days: settings.acceptance_max_days,
            schedule_min_seconds: settings.schedule_min_seconds,
            secrets: settings.common.secrets.clone(),
            assume_roles: settings.common.assume_roles.clone(),
            aws_profiles: settings.common.aws_profiles.clone(),
        },
        catalog: CatalogRules {
            scripts_dir: settings.common.scripts_dir.clone(),
            limit_ceiling: settings.limit_ceiling,
            retention_days: settings.retention.default_days,
        },
        auth: Authenticator::new(&settings.auth, &settings.admin_emails),
        signed_in: Arc::default(),
        metrics: Arc::default(),
        notify: settings.notify.clone(),
    })
}
