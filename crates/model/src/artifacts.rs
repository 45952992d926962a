//! Artifacts: what a script leaves under `/work/out`, named by its path below it.

use std::fmt;

/// Longest artifact name, in bytes.
pub const MAX_NAME_BYTES: usize = 512;

/// A path below `/work/out`, checked so it can only name something inside that folder
/// and be shown, stored as an S3 key and offered for download as it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArtifactName(String);

/// Unicode format characters that change how a name reads without being seen: bidi
/// overrides and isolates (`evil\u{202e}fdp.exe` shows as `evilexe.pdf`), zero-width
/// characters, the soft hyphen, the byte order mark and tag characters.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

impl ArtifactName {
    /// Why a name is refused, in words for the execution's log.
    pub fn parse(name: &str) -> Result<Self, &'static str> {
        if name.is_empty() {
            return Err("has an empty name");
        }
        if name.len() > MAX_NAME_BYTES {
            return Err("has a name longer than 512 bytes");
        }
        if name.chars().any(|c| c.is_control() || c == '\\') {
            return Err("has a control character or backslash in its name");
        }
        if name.chars().any(is_invisible) {
            return Err("has an invisible or direction-changing character in its name");
        }
        if name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err("has a name that would leave the folder");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last part of the path: the file name a download is saved under.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The media type a download is labelled with, from the file's extension.
    pub fn content_type(&self) -> &'static str {
        let extension = self
            .file_name()
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "txt" | "log" | "md" => "text/plain",
            "csv" => "text/csv",
            "json" => "application/json",
            "ndjson" | "jsonl" => "application/x-ndjson",
            "html" | "htm" => "text/html",
            "xml" => "application/xml",
            "yaml" | "yml" => "application/yaml",
            "pdf" => "application/pdf",
            "zip" => "application/zip",
            "gz" => "application/gzip",
            "tar" => "application/x-tar",
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "svg" => "image/svg+xml",
            _ => "application/octet-stream",
        }
    }

    /// Whether the file is text a secret can be masked in without breaking it.
    pub fn is_text(&self) -> bool {
        let kind = self.content_type();
        kind.starts_with("text/")
            || matches!(
                kind,
                "application/json"
                    | "application/x-ndjson"
                    | "application/xml"
                    | "application/yaml"
                    | "image/svg+xml"
            )
    }

    /// A `Content-Disposition` that makes every download a file to save, never a page
    /// to render (an HTML or SVG artifact is the script's content, not ours): an ASCII
    /// fallback name and the exact name in RFC 5987 form.
    pub fn content_disposition(&self) -> String {
        let name = self.file_name();
        let fallback: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut encoded = String::with_capacity(name.len() * 3);
        for byte in name.bytes() {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

impl fmt::Display for ArtifactName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_the_folder_are_kept_with_their_folders() {
        let name = ArtifactName::parse("reports/2026/backup.log").unwrap();
        assert_eq!(name.file_name(), "backup.log");
        assert_eq!(name.content_type(), "text/plain");
    }

    #[test]
    fn names_that_leave_the_folder_or_hide_characters_are_refused() {
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a\nb",
            "a\\b",
            "report\u{202e}fdp.exe",
            "in\u{200b}voice.pdf",
            "\u{feff}a.txt",
            "a\u{2066}b",
        ] {
            assert!(ArtifactName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ArtifactName::parse(&"a".repeat(513)).is_err());
    }

    #[test]
    fn every_download_is_an_attachment_with_a_safe_name() {
        let name = ArtifactName::parse("out/보고서 \"final\".html").unwrap();
        let disposition = name.content_disposition();
        assert!(disposition.starts_with("attachment; filename=\"_____final_.html\""));
        assert!(disposition.ends_with("%EB%B3%B4%EA%B3%A0%EC%84%9C%20%22final%22.html"));
        assert_eq!(name.content_type(), "text/html");
        assert_eq!(
            ArtifactName::parse("data.BIN").unwrap().content_type(),
            "application/octet-stream"
        );
    }
}
