//! Tracing set up once per process: JSON lines in production, readable lines locally.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::Env;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
    /// Whether each span's end is logged with how long it took (`LOG_SPANS=close`):
    /// where a run's time goes, step by step.
    pub span_ends: bool,
}

impl LogSettings {
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let format = env.optional_with("LOG_FORMAT", LogFormat::Json, |v| match v {
            "json" => Ok(LogFormat::Json),
            "pretty" => Ok(LogFormat::Pretty),
            _ => Err(format!("{v:?} is not one of json, pretty")),
        });
        let filter = env.optional_with("RUST_LOG", "info".to_owned(), |v| {
            EnvFilter::try_new(v)
                .map(|_| v.to_owned())
                .map_err(|e| format!("is not a valid filter: {e}"))
        });
        let span_ends = env.optional_with("LOG_SPANS", false, |v| match v {
            "none" => Ok(false),
            "close" => Ok(true),
            _ => Err(format!("{v:?} is not one of none, close")),
        });
        Some(Self {
            format: format?,
            filter: filter?,
            span_ends: span_ends?,
        })
    }
}

/// Installs the global subscriber. Safe to call more than once (tests do): later calls
/// keep the first subscriber.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(if settings.span_ends {
            FmtSpan::CLOSE
        } else {
            FmtSpan::NONE
        })
        .with_writer(std::io::stderr);
    let _already_set = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
