//! The api's loops beside its requests: the outbox relay, webhook deliveries, the
//! approval expiry sweeper, the scan dispatcher, the scheduler, notifications, the
//! retention purge, and the live log streams.

pub mod approvals;
pub mod live;
pub mod notifications;
pub mod relay;
pub mod retention;
pub mod scans;
pub mod schedules;
pub mod webhook;
