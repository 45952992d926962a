//! The worker's metrics, served on WORKER_METRICS_BIND: the run families it records
//! (starts, the ends it stores, time queued and running), its job slots, and the log
//! lines and bytes its sandboxes printed.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sage_infra::metrics::{Registry, RunMetrics};
use sage_model::logs::Stream;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabel {
    stream: &'static str,
}

pub struct WorkerMetrics {
    registry: Arc<Registry>,
    pub runs: RunMetrics,
    slots_busy: Gauge,
    pub logs: LogCounters,
}

/// Lines and bytes of output, by stream, after redaction.
#[derive(Clone, Default)]
pub struct LogCounters {
    lines: Family<StreamLabel, Counter>,
    bytes: Family<StreamLabel, Counter>,
}

impl LogCounters {
    pub fn count(&self, stream: Stream, lines: &[String]) {
        let label = StreamLabel {
            stream: stream.as_str(),
        };
        let bytes: usize = lines.iter().map(String::len).sum();
        self.lines.get_or_create(&label).inc_by(lines.len() as u64);
        self.bytes.get_or_create(&label).inc_by(bytes as u64);
    }
}

impl WorkerMetrics {
    /// `slots`: the jobs this worker runs at once (WORKER_CONCURRENCY).
    pub fn new(slots: usize) -> Self {
        let mut registry = Registry::default();
        let runs = RunMetrics::register(&mut registry);
        let slots_total: Gauge = Gauge::default();
        slots_total.set(i64::try_from(slots).unwrap_or(i64::MAX));
        let slots_busy = Gauge::default();
        let logs = LogCounters::default();
        registry.register(
            "sage_worker_slots",
            "Jobs this worker may run at once",
            slots_total,
        );
        registry.register(
            "sage_worker_slots_busy",
            "Jobs this worker is running now",
            slots_busy.clone(),
        );
        registry.register(
            "sage_log_lines",
            "Output lines of runs, by stream",
            logs.lines.clone(),
        );
        registry.register(
            "sage_log_bytes",
            "Output bytes of runs after redaction, by stream",
            logs.bytes.clone(),
        );
        Self {
            registry: Arc::new(registry),
            runs,
            slots_busy,
            logs,
        }
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Marks a slot busy until the returned guard is dropped.
    pub fn busy(&self) -> BusySlot {
        self.slots_busy.inc();
        BusySlot(self.slots_busy.clone())
    }
}

pub struct BusySlot(Gauge);

impl Drop for BusySlot {
    fn drop(&mut self) {
        self.0.dec();
    }
}
