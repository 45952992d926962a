//! Sign-ins kept between runs of `sage`: one per api address, in `credentials.json` of
//! the user's config directory, readable by the user alone: the directory 0700 and the
//! user's own (one open to others is refused), the file 0600, written whole to a new
//! file of a random name (created exclusively, never through a link) and renamed over
//! the old. A lock file serialises the processes that renew a token, so two of them
//! never spend one refresh token.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One sign-in: the tokens and where they are renewed and revoked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub issuer: String,
    pub client_id: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// Who the api said this is when the sign-in was made.
    pub email: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}")]
pub struct StoreError {
    path: String,
    why: String,
}

impl StoreError {
    fn at(path: &Path, why: impl ToString) -> Self {
        Self {
            path: path.display().to_string(),
            why: why.to_string(),
        }
    }
}

/// The sign-ins of one config directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Held while a sign-in is read, renewed and written back.
pub struct Locked {
    _lock: File,
}

impl Store {
    /// `dir`, or else the platform's config directory for `sage`
    /// (`$XDG_CONFIG_HOME/sage`, `~/.config/sage`).
    pub fn new(dir: Option<PathBuf>) -> Result<Self, StoreError> {
        let dir = match dir {
            Some(dir) => dir,
            None => directories::ProjectDirs::from("", "", "sage")
                .map(|dirs| dirs.config_dir().to_path_buf())
                .ok_or_else(|| {
                    StoreError::at(
                        Path::new("~"),
                        "no home directory to keep sign-ins in (set SAGE_CONFIG_DIR)",
                    )
                })?,
        };
        Ok(Self { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }

    /// The directory, made 0700 if missing; refused when another user owns it or may
    /// read or write in it.
    fn ensure_dir(&self) -> Result<(), StoreError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| StoreError::at(&self.dir, e))?;
        self.check_dir()
    }

    fn check_dir(&self) -> Result<(), StoreError> {
        let meta = fs::symlink_metadata(&self.dir).map_err(|e| StoreError::at(&self.dir, e))?;
        if !meta.is_dir() {
            return Err(StoreError::at(
                &self.dir,
                "is not a directory (a link is refused)",
            ));
        }
        if meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o077 != 0 {
            return Err(StoreError::at(
                &self.dir,
                format!(
                    "is open to other users (mode {:o}, owner {}): sign-ins are kept only in a directory of yours alone (chmod 700)",
                    meta.mode() & 0o777,
                    meta.uid()
                ),
            ));
        }
        Ok(())
    }

    /// An exclusive hold on the store, released when dropped.
    pub fn lock(&self) -> Result<Locked, StoreError> {
        self.ensure_dir()?;
        let path = self.dir.join("credentials.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| StoreError::at(&path, e))?;
        file.lock().map_err(|e| StoreError::at(&path, e))?;
        Ok(Locked { _lock: file })
    }

    fn read_all(&self) -> Result<BTreeMap<String, Credentials>, StoreError> {
        if self.dir.exists() {
            self.check_dir()?;
        }
        let path = self.path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::at(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(StoreError::at(&path, e)),
        }
    }

    fn write_all(&self, all: &BTreeMap<String, Credentials>, _: &Locked) -> Result<(), StoreError> {
        self.ensure_dir()?;
        let path = self.path();
        // A new file of a random name, created exclusively with mode 0600 (tempfile's
        // own), removed if anything fails before the rename.
        let write = || -> std::io::Result<()> {
            let mut fresh = tempfile::Builder::new()
                .prefix(".credentials-")
                .tempfile_in(&self.dir)?;
            fresh.write_all(&serde_json::to_vec_pretty(all)?)?;
            fresh.as_file().sync_all()?;
            fresh.persist(&path).map(drop).map_err(|e| e.error)
        };
        write().map_err(|e| StoreError::at(&path, e))
    }

    /// The sign-in kept for the api at `url`.
    pub fn get(&self, url: &str) -> Result<Option<Credentials>, StoreError> {
        Ok(self.read_all()?.remove(url))
    }

    pub fn put(
        &self,
        url: &str,
        credentials: Credentials,
        held: &Locked,
    ) -> Result<(), StoreError> {
        let mut all = self.read_all()?;
        all.insert(url.to_owned(), credentials);
        self.write_all(&all, held)
    }

    /// Forgets the sign-in for `url`; what it was, if any.
    pub fn remove(&self, url: &str, held: &Locked) -> Result<Option<Credentials>, StoreError> {
        let mut all = self.read_all()?;
        let removed = all.remove(url);
        if removed.is_some() {
            self.write_all(&all, held)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn sample(token: &str) -> Credentials {
        Credentials {
            issuer: "https://id.example.com".to_owned(),
            client_id: "sage-cli".to_owned(),
            token_endpoint: "https://id.example.com/token".to_owned(),
            revocation_endpoint: None,
            access_token: token.to_owned(),
            refresh_token: Some("r".to_owned()),
            expires_at: DateTime::UNIX_EPOCH,
            email: "a@example.com".to_owned(),
        }
    }

    #[test]
    fn sign_ins_are_kept_per_address_readable_by_the_user_alone() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::new(Some(home.path().join("sage"))).unwrap();
        let held = store.lock().unwrap();
        store.put("http://a", sample("one"), &held).unwrap();
        store.put("http://b", sample("two"), &held).unwrap();
        assert_eq!(store.get("http://a").unwrap(), Some(sample("one")));
        assert_eq!(store.get("http://b").unwrap(), Some(sample("two")));
        assert_eq!(store.get("http://c").unwrap(), None);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.path()), 0o600);
        assert_eq!(mode(&home.path().join("sage")), 0o700);

        assert_eq!(
            store.remove("http://a", &held).unwrap(),
            Some(sample("one"))
        );
        assert_eq!(store.get("http://a").unwrap(), None);
        assert_eq!(store.get("http://b").unwrap(), Some(sample("two")));
        assert_eq!(store.remove("http://a", &held).unwrap(), None);
    }

    #[test]
    fn a_directory_open_to_others_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let shared = home.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let store = Store::new(Some(shared)).unwrap();
        let refused = store.lock().err().unwrap().to_string();
        assert!(
            refused.contains("is open to other users (mode 777"),
            "{refused}"
        );
        assert!(!store.path().exists());
    }
}
