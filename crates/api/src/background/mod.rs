//! The api's loops beside its requests: the outbox relay, webhook deliveries, the
//! approval expiry sweeper, and the live log streams.

pub mod approvals;
pub mod live;
pub mod relay;
pub mod webhook;
