//! Log lines as Sage Runner shows them: a script's raw output split into lines of
//! bounded size, every secret of the execution redacted, and control characters made
//! visible so no line can drive a terminal or hide text.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// A line longer than this is split; the parts are shown as separate lines.
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// What a redacted secret is shown as.
pub const MASK: &str = "***";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// One displayable, redacted line of an execution's log: what is stored, what goes over
/// Redis and what an SSE event's `data` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub seq: i64,
    pub stream: Stream,
    pub ts: chrono::DateTime<chrono::Utc>,
    pub line: String,
}

impl std::str::FromStr for Stream {
    type Err = ();

    fn from_str(value: &str) -> Result<Self, ()> {
        match value {
            "stdout" => Ok(Self::Stdout),
            "stderr" => Ok(Self::Stderr),
            _ => Err(()),
        }
    }
}

/// Replaces every secret value, in plain text and in the encodings a script is likely
/// to print it in (base64 in both alphabets, hex, percent-encoding), by [`MASK`].
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Leftmost-longest, so a form that contains another is masked whole.
    matcher: Option<AhoCorasick>,
    longest: usize,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut forms: Vec<Vec<u8>> = secrets
            .into_iter()
            .filter(|secret| !secret.is_empty())
            .flat_map(encodings)
            .collect();
        forms.sort();
        forms.dedup();
        let longest = forms.iter().map(Vec::len).max().unwrap_or(0);
        // Building fails only beyond size limits a few short patterns cannot reach;
        // should it ever fail, `redact` masks whole lines rather than leak.
        let matcher = (!forms.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&forms)
        });
        Self {
            matcher: matcher.and_then(Result::ok),
            longest,
        }
    }

    /// The length of the longest form: how far a secret can reach across a cut.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// Where forms occur in `bytes`, as (start, end), leftmost-longest, not overlapping.
    fn occurrences(&self, bytes: &[u8]) -> Vec<(usize, usize)> {
        match &self.matcher {
            Some(matcher) => matcher
                .find_iter(bytes)
                .map(|m| (m.start(), m.end()))
                .collect(),
            None => Vec::new(),
        }
    }

    pub fn redact(&self, bytes: &[u8]) -> Vec<u8> {
        if self.longest == 0 {
            return bytes.to_vec();
        }
        if self.matcher.is_none() {
            return MASK.as_bytes().to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut last = 0;
        for (start, end) in self.occurrences(bytes) {
            out.extend_from_slice(&bytes[last..start]);
            out.extend_from_slice(MASK.as_bytes());
            last = end;
        }
        out.extend_from_slice(&bytes[last..]);
        out
    }
}

fn encodings(secret: &str) -> Vec<Vec<u8>> {
    let bytes = secret.as_bytes();
    let hex = crate::hex(bytes);
    vec![
        bytes.to_vec(),
        STANDARD.encode(bytes).into_bytes(),
        STANDARD_NO_PAD.encode(bytes).into_bytes(),
        URL_SAFE.encode(bytes).into_bytes(),
        URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        hex.to_ascii_uppercase().into_bytes(),
        hex.into_bytes(),
        percent_encode(bytes, false).into_bytes(),
        percent_encode(bytes, true).into_bytes(),
        percent_encode_all(bytes).into_bytes(),
    ]
}

/// RFC 3986 percent-encoding of everything but unreserved characters; `form` writes
/// spaces as `+` (HTML forms, query strings).
fn percent_encode(bytes: &[u8], form: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if form => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Every byte encoded, as some tools do.
fn percent_encode_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// Makes raw bytes displayable: invalid UTF-8 becomes U+FFFD, and control characters
/// (NUL, ESC and the other C0 and C1 codes, DEL) become their visible Unicode pictures,
/// so escape sequences cannot move a terminal's cursor or hide text. Tabs stay.
pub fn display(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| match c {
            '\t' => c,
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            '\u{80}'..='\u{9f}' => '\u{fffd}',
            _ => c,
        })
        .collect()
}

/// Splits one stream's output into display lines, redacting secrets first. Holds at
/// most [`MAX_LINE_BYTES`] plus the longest secret form: memory stays bounded whatever
/// the script prints.
#[derive(Debug)]
pub struct LineSplitter {
    pending: Vec<u8>,
    redactor: std::sync::Arc<Redactor>,
}

impl LineSplitter {
    pub fn new(redactor: std::sync::Arc<Redactor>) -> Self {
        Self {
            pending: Vec::new(),
            redactor,
        }
    }

    /// Feeds output; complete lines are appended to `lines`.
    pub fn push(&mut self, mut bytes: &[u8], lines: &mut Vec<String>) {
        while let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&bytes[..newline]);
            bytes = &bytes[newline + 1..];
            self.emit_long_parts(lines);
            let mut line = std::mem::take(&mut self.pending);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(display(&self.redactor.redact(&line)));
        }
        self.pending.extend_from_slice(bytes);
        self.emit_long_parts(lines);
    }

    /// The last line, if the output did not end with a newline.
    pub fn finish(&mut self, lines: &mut Vec<String>) {
        self.emit_long_parts(lines);
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            lines.push(display(&self.redactor.redact(&line)));
        }
    }

    /// Cuts parts of [`MAX_LINE_BYTES`] off a line that has not ended, once enough
    /// follows to know no secret straddles the cut (the cut moves before one that does).
    fn emit_long_parts(&mut self, lines: &mut Vec<String>) {
        let reach = self.redactor.longest().saturating_sub(1);
        while self.pending.len() > MAX_LINE_BYTES + reach {
            // Never split inside a UTF-8 character...
            let mut cut = MAX_LINE_BYTES;
            while cut > 1 && (self.pending[cut] & 0b1100_0000) == 0b1000_0000 {
                cut -= 1;
            }
            // ...nor inside a secret (whose first byte always starts a character).
            if let Some(&(start, end)) = self
                .redactor
                .occurrences(&self.pending)
                .iter()
                .find(|(start, end)| *start < cut && cut < *end)
            {
                cut = if start > 0 { start } else { end };
            }
            let rest = self.pending.split_off(cut);
            let part = std::mem::replace(&mut self.pending, rest);
            lines.push(display(&self.redactor.redact(&part)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn split(secrets: &[&str], chunks: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::new(Arc::new(Redactor::new(secrets.iter().copied())));
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, &mut lines);
        }
        splitter.finish(&mut lines);
        lines
    }

    #[test]
    fn lines_are_split_on_newlines_across_chunks() {
        assert_eq!(
            split(&[], &[b"one\ntw", b"o\r\nthree"]),
            ["one", "two", "three"]
        );
        assert_eq!(split(&[], &[b"\n\n"]), ["", ""]);
    }

    #[test]
    fn every_encoding_of_a_secret_is_masked() {
        let secret = "p@ss w0rd/+?";
        let forms = [
            secret.to_owned(),
            STANDARD.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
            "7040737320773072642f2b3f".to_owned(),
            "7040737320773072642F2B3F".to_owned(),
            "p%40ss%20w0rd%2F%2B%3F".to_owned(),
            "p%40ss+w0rd%2F%2B%3F".to_owned(),
        ];
        for form in forms {
            let line = format!("key={form}; done");
            assert_eq!(
                split(&[secret], &[line.as_bytes()]),
                ["key=***; done"],
                "{form}"
            );
        }
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        let lines = split(&[], &[b"red \x1b[31mtext\x00 bell\x07 tab\there \xff end"]);
        assert_eq!(
            lines,
            ["red \u{241b}[31mtext\u{2400} bell\u{2407} tab\there \u{fffd} end"]
        );
    }

    #[test]
    fn a_long_line_is_split_at_the_limit() {
        let long = vec![b'a'; MAX_LINE_BYTES * 2 + 10];
        let lines = split(&[], &[&long]);
        assert_eq!(
            lines.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE_BYTES, MAX_LINE_BYTES, 10]
        );
    }

    #[test]
    fn a_secret_across_the_split_point_is_still_masked() {
        let secret = "TOPSECRETVALUE";
        let mut long = vec![b'a'; MAX_LINE_BYTES - 5];
        long.extend_from_slice(secret.as_bytes());
        long.extend_from_slice(&[b'b'; 100]);
        let joined = split(&[secret], &[&long]).concat();
        assert!(
            !joined.contains(secret) && joined.contains(MASK),
            "{joined}"
        );
    }

    proptest! {
        #[test]
        fn no_secret_survives_any_chunking(
            secret in "[a-zA-Z0-9]{6,20}",
            noise in proptest::collection::vec(any::<u8>(), 0..3000),
            cut in 0usize..3000,
            chunk in 1usize..700,
        ) {
            let mut output = noise.clone();
            let at = cut.min(output.len());
            output.splice(at..at, secret.bytes());
            output.extend_from_slice(STANDARD.encode(&secret).as_bytes());
            let chunks: Vec<&[u8]> = output.chunks(chunk).collect();
            let joined = split(&[&secret], &chunks).join("\n");
            prop_assert!(!joined.contains(&secret));
            prop_assert!(!joined.contains(&STANDARD.encode(&secret)));
            prop_assert!(!joined.chars().any(|c| c.is_control() && c != '\t' && c != '\n'));
        }
    }
}
