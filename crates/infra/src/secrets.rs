//! Secret run parameters at rest: AES-256-GCM with a key from the environment. The api
//! seals, the worker opens just before it starts the container; the execution id is
//! bound in as associated data, so a sealed value cannot be moved to another run.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::Env;

/// 96-bit nonces, as GCM expects.
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed secret does not open with this key (wrong SECRETS_KEY, or tampered)")]
pub struct OpenError;

impl SecretBox {
    /// SECRETS_KEY: 32 random bytes, base64 (`openssl rand -base64 32`).
    pub fn from_env(env: &mut Env) -> Option<Self> {
        env.required_with("SECRETS_KEY", |v| {
            let bytes = STANDARD
                .decode(v)
                .map_err(|_| "must be base64 (openssl rand -base64 32)".to_owned())?;
            Self::new(&bytes).ok_or_else(|| format!("must decode to 32 bytes, not {}", bytes.len()))
        })
    }

    pub fn new(key: &[u8]) -> Option<Self> {
        (key.len() == 32).then(|| Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        })
    }

    /// nonce ‖ ciphertext of `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        // Encryption only fails for inputs beyond GCM's 64 GiB limit.
        let ciphertext = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_box() -> SecretBox {
        SecretBox::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn seals_and_opens_bound_to_its_context() {
        let b = secret_box();
        let sealed = b.seal(b"hunter2", b"execution-1");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(b.open(&sealed, b"execution-1").unwrap(), b"hunter2");
        assert!(
            b.open(&sealed, b"execution-2").is_err(),
            "bound to its execution"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(b.open(&tampered, b"execution-1").is_err());
        assert!(
            SecretBox::new(&[8u8; 32])
                .unwrap()
                .open(&sealed, b"execution-1")
                .is_err()
        );
    }

    #[test]
    fn nonces_differ_each_time() {
        let b = secret_box();
        assert_ne!(b.seal(b"x", b"c"), b.seal(b"x", b"c"));
    }

    #[test]
    fn keys_are_validated() {
        let mut env = Env::from_pairs([("SECRETS_KEY", "c2hvcnQ=")]);
        assert!(SecretBox::from_env(&mut env).is_none());
        assert!(env.finish().unwrap_err().to_string().contains("32 bytes"));
    }
}
