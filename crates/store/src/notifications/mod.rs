//! Notification channels and rules, and their outbox. Messages are matched from the
//! audit trail: every change that can be told of is audited in its own transaction,
//! and audit events commit in id order (their chain is appended under one lock), so
//! reading the trail after a cursor sees each change once, whichever replica reads.
//! A matched message waits in the outbox until its channel took it, retried with
//! backoff, and stays there afterwards as the channel's record of deliveries.

mod channels;
mod outbox;
mod rules;

pub use channels::{Channel, ChannelRecord, ChannelRemoval, Delivery};
pub use outbox::Outgoing;
pub use rules::Rule;
