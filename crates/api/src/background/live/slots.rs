//! Caps on open log streams: each holds a task, a queue and a share of the database's
//! attention, so neither one user nor the sum of all may open them without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sage_model::UserId;

use super::lock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    pub per_user: usize,
    pub per_process: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooManyStreams {
    #[error(
        "you already have {0} log streams open, the most one user may hold; close one and try again"
    )]
    User(usize),
    #[error("this api process serves the most log streams it may ({0}); try again shortly")]
    Process(usize),
}

#[derive(Clone)]
pub struct StreamSlots {
    limits: StreamLimits,
    open: Arc<Mutex<Open>>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_user: HashMap<UserId, usize>,
}

/// One open stream; dropping it frees the slot.
pub struct StreamSlot {
    open: Arc<Mutex<Open>>,
    user: UserId,
}

impl StreamSlots {
    pub fn new(limits: StreamLimits) -> Self {
        Self {
            limits,
            open: Arc::default(),
        }
    }

    pub fn take(&self, user: UserId) -> Result<StreamSlot, TooManyStreams> {
        let mut open = lock(&self.open);
        let mine = open.per_user.get(&user).copied().unwrap_or(0);
        if mine >= self.limits.per_user {
            return Err(TooManyStreams::User(self.limits.per_user));
        }
        if open.total >= self.limits.per_process {
            return Err(TooManyStreams::Process(self.limits.per_process));
        }
        open.total += 1;
        open.per_user.insert(user, mine + 1);
        Ok(StreamSlot {
            open: self.open.clone(),
            user,
        })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        lock(&self.open).total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.per_user.get_mut(&self.user) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.per_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_and_the_process_are_capped_and_a_closed_stream_frees_its_slot() {
        let slots = StreamSlots::new(StreamLimits {
            per_user: 2,
            per_process: 3,
        });
        let (alice, bob) = (UserId::new(), UserId::new());
        let first = slots.take(alice).unwrap();
        let _second = slots.take(alice).unwrap();
        assert_eq!(slots.take(alice).err(), Some(TooManyStreams::User(2)));
        let _third = slots.take(bob).unwrap();
        assert_eq!(slots.take(bob).err(), Some(TooManyStreams::Process(3)));
        drop(first);
        assert!(slots.take(bob).is_ok());
    }
}
