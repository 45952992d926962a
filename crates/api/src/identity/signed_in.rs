//! Callers seen lately, so that a request of a known caller costs no token check and
//! no database round trip: a bearer token is trusted again until it expires (a minute
//! at most), a demo user for a few seconds. On a miss the user's row is read, and
//! written only when something changed or a minute passed (see `Db::sign_in`). Misses
//! of one credential at the same moment share one sign-in: when an entry expires under
//! load, the requests in flight for it wait for the first one's answer instead of each
//! reading, and once a minute writing, the same user row (where they would queue on
//! its lock, holding pool connections that other requests wait for).
//!
//! What is cached is what the credential proves; what the caller may do with a module
//! or a run is still read on every request, so taking an assignment away acts at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    /// One gate per credential being signed in now; the holder signs in, the others
    /// wait their turn and then find its answer remembered.
    signing_in: Mutex<Gates>,
}

type Gates = HashMap<Key, Arc<tokio::sync::Mutex<()>>>;

/// A request's place at one credential's gate. Leaving it (done, or the request
/// dropped on the way) takes the gate away once nobody else is there, so the map holds
/// only credentials being signed in now.
struct AtGate<'a> {
    gates: &'a Mutex<Gates>,
    key: Key,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> AtGate<'a> {
    fn enter(gates: &'a Mutex<Gates>, key: Key) -> Self {
        let gate = Arc::clone(crate::background::live::lock(gates).entry(key).or_default());
        Self { gates, key, gate }
    }
}

impl Drop for AtGate<'_> {
    fn drop(&mut self) {
        let mut gates = crate::background::live::lock(self.gates);
        // Two holders left (the map and this one): nobody else waits at this gate.
        if gates.get(&self.key).is_some_and(|current| {
            Arc::ptr_eq(current, &self.gate) && Arc::strong_count(current) == 2
        }) {
            gates.remove(&self.key);
        }
    }
}

impl SignedIn {
    /// The caller `key` signed in as lately, or else the answer of `sign_in`, which
    /// says how long it may be trusted; concurrent misses of one key run it once.
    pub async fn get_or_sign_in<E, F>(&self, key: Key, sign_in: F) -> Result<Known, E>
    where
        F: Future<Output = Result<(Known, Duration), E>>,
    {
        if let Some(known) = self.get(&key) {
            return Ok(known);
        }
        let at_gate = AtGate::enter(&self.signing_in, key);
        // Dropped before `at_gate` (the reverse of their order here), whichever way
        // this call ends.
        let _turn = at_gate.gate.lock().await;
        // Whoever held the gate before may have signed this caller in meanwhile.
        match self.get(&key) {
            Some(known) => Ok(known),
            None => sign_in.await.map(|(known, ttl)| {
                self.put(key, known.clone(), ttl);
                known
            }),
        }
    }

    pub fn get(&self, key: &Key) -> Option<Known> {
        let entries = crate::background::live::lock(&self.entries);
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
        let mut entries = crate::background::live::lock(&self.entries);
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

    #[tokio::test]
    async fn misses_of_one_credential_at_once_sign_in_once() {
        let cache = Arc::new(SignedIn::default());
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sign_in = |key: Key| {
            let (cache, runs) = (Arc::clone(&cache), Arc::clone(&runs));
            tokio::spawn(async move {
                cache
                    .get_or_sign_in(key, async {
                        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // Long enough for every other miss to arrive meanwhile.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, ()>((known("a@example.com"), DEMO_TTL))
                    })
                    .await
            })
        };
        let same: Vec<_> = (0..16)
            .map(|_| sign_in(Key::of("demo", "a@example.com")))
            .collect();
        let other = sign_in(Key::of("demo", "b@example.com"));
        for answer in same {
            assert_eq!(answer.await.unwrap().unwrap().actor, "a@example.com");
        }
        other.await.unwrap().unwrap();
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "one sign-in per credential"
        );
        assert!(
            crate::background::live::lock(&cache.signing_in).is_empty(),
            "no gate outlives its sign-ins"
        );
    }

    #[tokio::test]
    async fn a_request_dropped_while_signing_in_leaves_no_gate() {
        let cache = Arc::new(SignedIn::default());
        let key = Key::of("bearer", "slow");
        let signing_in = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move {
                cache
                    .get_or_sign_in(key, std::future::pending::<Result<(Known, Duration), ()>>())
                    .await
            }
        });
        while crate::background::live::lock(&cache.signing_in).is_empty() {
            tokio::task::yield_now().await;
        }
        signing_in.abort();
        assert!(signing_in.await.unwrap_err().is_cancelled());
        assert!(
            crate::background::live::lock(&cache.signing_in).is_empty(),
            "the gate went with the request"
        );
        let next = cache
            .get_or_sign_in(key, async {
                Ok::<_, ()>((known("a@example.com"), TOKEN_TTL))
            })
            .await;
        assert_eq!(next.unwrap().actor, "a@example.com");
    }

    #[tokio::test]
    async fn a_failed_sign_in_is_not_remembered() {
        let cache = SignedIn::default();
        let key = Key::of("bearer", "expired");
        let failed = cache
            .get_or_sign_in(key, async { Err::<(Known, Duration), _>("refused") })
            .await;
        assert_eq!(failed.unwrap_err(), "refused");
        assert!(cache.get(&key).is_none());
        let next = cache
            .get_or_sign_in(key, async {
                Ok::<_, ()>((known("a@example.com"), TOKEN_TTL))
            })
            .await;
        assert_eq!(
            next.unwrap().actor,
            "a@example.com",
            "the next try signs in again"
        );
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
        assert_eq!(
            crate::background::live::lock(&cache.entries).len(),
            MAX_ENTRIES
        );
    }
}
