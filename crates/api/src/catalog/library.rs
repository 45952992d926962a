//! The script library on disk: where a registered path really leads, and the sha256
//! that registration pins.

use std::io::Read;
use std::path::{Path, PathBuf};

use sage_model::catalog::script::ScriptPath;
use sha2::{Digest, Sha256};

/// Scripts larger than this are refused: a script is code, not data.
pub const MAX_SCRIPT_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("does not exist in the script library")]
    Missing,
    #[error("leads outside the script library")]
    Outside,
    #[error("is a directory, not a script")]
    Directory,
    #[error("is not a regular file")]
    NotRegular,
    #[error("is larger than 1 MiB")]
    TooLarge,
    #[error("the script library cannot be read")]
    Io(#[source] std::io::Error),
}

/// Resolves `path` inside `root`, following symlinks only while they stay inside, and
/// returns the sha256 of the file it leads to.
pub fn pin(root: &Path, path: &ScriptPath) -> Result<String, LibraryError> {
    let root = root.canonicalize().map_err(LibraryError::Io)?;
    let candidate = root.join(path.as_str());
    let real: PathBuf = match candidate.canonicalize() {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink is as good as missing, but one pointing outside says so.
            return Err(match std::fs::read_link(&candidate) {
                Ok(target) if !root.join(&target).starts_with(&root) => LibraryError::Outside,
                _ => LibraryError::Missing,
            });
        }
        Err(e) => return Err(LibraryError::Io(e)),
    };
    if !real.starts_with(&root) {
        return Err(LibraryError::Outside);
    }
    let metadata = std::fs::metadata(&real).map_err(LibraryError::Io)?;
    if metadata.is_dir() {
        return Err(LibraryError::Directory);
    }
    if !metadata.is_file() {
        return Err(LibraryError::NotRegular);
    }
    if metadata.len() > MAX_SCRIPT_BYTES {
        return Err(LibraryError::TooLarge);
    }
    let mut file = std::fs::File::open(&real).map_err(LibraryError::Io)?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.by_ref()
        .take(MAX_SCRIPT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(LibraryError::Io)?;
    if bytes.len() as u64 > MAX_SCRIPT_BYTES {
        return Err(LibraryError::TooLarge);
    }
    Ok(sage_model::hex(&Sha256::digest(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sage-lib-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("team")).unwrap();
        std::fs::write(dir.join("team/ok.py"), b"print('hi')\n").unwrap();
        std::fs::write(
            dir.join("big.py"),
            vec![b'#'; (MAX_SCRIPT_BYTES + 1) as usize],
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("escape.py")).unwrap();
        std::os::unix::fs::symlink("team/ok.py", dir.join("alias.py")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("etc")).unwrap();
        dir
    }

    fn pin_str(root: &Path, raw: &str) -> Result<String, LibraryError> {
        pin(root, &ScriptPath::parse(raw).unwrap())
    }

    #[test]
    fn files_inside_are_pinned_even_through_inner_symlinks() {
        let root = library();
        let direct = pin_str(&root, "team/ok.py").unwrap();
        assert_eq!(direct, sage_model::hex(&Sha256::digest(b"print('hi')\n")));
        assert_eq!(pin_str(&root, "alias.py").unwrap(), direct);
    }

    #[test]
    fn anything_else_is_refused() {
        let root = library();
        assert!(matches!(
            pin_str(&root, "escape.py"),
            Err(LibraryError::Outside)
        ));
        assert!(matches!(
            pin_str(&root, "etc/passwd"),
            Err(LibraryError::Outside)
        ));
        assert!(matches!(
            pin_str(&root, "team"),
            Err(LibraryError::Directory)
        ));
        assert!(matches!(
            pin_str(&root, "nope.py"),
            Err(LibraryError::Missing)
        ));
        assert!(matches!(
            pin_str(&root, "big.py"),
            Err(LibraryError::TooLarge)
        ));
    }
}
