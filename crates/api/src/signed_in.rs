//! Callers seen lately, so that a request of a known caller costs no token check and
//! no database round trip: a bearer token is trusted again until it expires (a minute
//! at most), a demo user for a few seconds. On a miss the user's row is read, and
//! written only when something changed or a minute passed (see `Db::sign_in`).
//!
//! What is cached is what the credential proves; what the caller may do with a module
//! or a run is still read on every request, so taking an assignment away acts at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sage_store::users::User;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// The longest a verified token is trusted without being checked again.
pub const TOKEN_TTL: Duration = Duration::from_secs(60);
/// How long a demo user's row is trusted as read.
pub const DEMO_TTL: Duration = Duration::from_secs(5);
/// Callers remembered at most; past it, the expired go first, then the soonest to
/// expire.
const MAX_ENTRIES: usize = 10_000;

/// A credential as the cache knows it: a digest, so no token is kept in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

impl Key {
    /// `kind` keeps a demo email and a bearer token that happen to be equal apart.
    pub fn of(kind: &str, credential: &str) -> Self {
        let mut digest = Sha256::new();
        digest.update(kind.as_bytes());
        digest.update([0]);
        digest.update(credential.as_bytes());
        Self(digest.finalize().into())
    }
}

/// Who a credential signed in as, and what audit rows call them.
#[derive(Debug, Clone)]
pub struct Known {
    pub user: User,
    pub actor: String,
}

struct Entry {
    known: Known,
    until: Instant,
}

#[derive(Default)]
pub struct SignedIn {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl SignedIn {
    pub fn get(&self, key: &Key) -> Option<Known> {
        let entries = crate::live::lock(&self.entries);
        entries
            .get(key)
            .filter(|entry| entry.until > Instant::now())
            .map(|entry| entry.known.clone())
    }

    /// Remembers a sign-in for `ttl` (nothing when it is zero).
    pub fn put(&self, key: Key, known: Known, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = crate::live::lock(&self.entries);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.until > now);
        }
        if entries.len() >= MAX_ENTRIES
            && let Some(soonest) = entries
                .iter()
                .min_by_key(|(_, entry)| entry.until)
                .map(|(key, _)| *key)
        {
            entries.remove(&soonest);
        }
        entries.insert(
            key,
            Entry {
                known,
                until: now + ttl,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(email: &str) -> Known {
        Known {
            user: User {
                id: sage_model::UserId::from(uuid::Uuid::new_v4()),
                email: email.to_owned(),
                email_verified: true,
                roles: Vec::new(),
                groups: Vec::new(),
                created_at: chrono::Utc::now(),
            },
            actor: email.to_owned(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_sign_in_is_remembered_for_its_time_and_no_longer() {
        let cache = SignedIn::default();
        let key = Key::of("demo", "a@example.com");
        assert!(cache.get(&key).is_none());
        cache.put(key, known("a@example.com"), DEMO_TTL);
        assert_eq!(cache.get(&key).unwrap().actor, "a@example.com");
        assert!(cache.get(&Key::of("bearer", "a@example.com")).is_none());
        tokio::time::advance(DEMO_TTL).await;
        assert!(cache.get(&key).is_none(), "expired");
        cache.put(key, known("a@example.com"), Duration::ZERO);
        assert!(cache.get(&key).is_none(), "a zero time is not remembered");
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_stays_bounded() {
        let cache = SignedIn::default();
        for n in 0..MAX_ENTRIES + 10 {
            cache.put(
                Key::of("demo", &n.to_string()),
                known("x@example.com"),
                DEMO_TTL,
            );
        }
        assert_eq!(crate::live::lock(&cache.entries).len(), MAX_ENTRIES);
    }
}
