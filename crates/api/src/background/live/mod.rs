//! What log streams share within one api process, so that their cost does not grow with
//! their number: one Redis subscription fanned out to every stream ([`feed`]), one
//! database poll for all streams of runs that have not started ([`waiting`]), and the
//! caps on how many streams a user and the process may hold open ([`slots`]).

pub mod feed;
pub mod slots;
pub mod waiting;

pub use feed::{Following, Heard, LiveFeed};
pub use slots::{StreamLimits, StreamSlot, StreamSlots, TooManyStreams};
pub use waiting::WaitingRuns;

/// The shared tables stay whole even if a holder panicked: every change to them is a
/// single step, so a poisoned lock is taken as it is.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The shared parts, one set per process.
#[derive(Clone)]
pub struct Live {
    pub feed: LiveFeed,
    pub waiting: WaitingRuns,
    pub slots: StreamSlots,
    /// How often an idle stream sends a comment. Proxies keep the connection open, and a
    /// client that went away is noticed (its place freed) only when a write fails.
    pub keepalive: std::time::Duration,
}

impl Live {
    /// Starts the background tasks; they end when the last handle is dropped.
    pub fn start(
        redis: redis::Client,
        db: sage_store::Db,
        limits: StreamLimits,
        keepalive: std::time::Duration,
    ) -> Self {
        Self {
            feed: LiveFeed::start(redis),
            waiting: WaitingRuns::start(db),
            slots: StreamSlots::new(limits),
            keepalive,
        }
    }
}
