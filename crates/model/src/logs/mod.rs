//! Log lines as Sage Runner shows them: a script's raw output split into lines of
//! bounded size, every secret of the execution redacted, and control characters made
//! visible so no line can drive a terminal or hide text.

mod chunk;

pub use chunk::{ChunkBuilder, ChunkError, LogChunk};

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
    /// The worker's own notices about the run: no script can write here.
    Sage,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
            Self::Sage => "sage",
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
            "sage" => Ok(Self::Sage),
            _ => Err(()),
        }
    }
}

/// Replaces every secret value, in plain text and in the encodings a script is likely
/// to print it in, by [`MASK`]: base64 in both alphabets (whole, and inside a longer
/// encoded string at each of the three alignments, as in
/// `Authorization: Basic base64("svc:" + secret)`), hex and percent-encoding in either
/// case, JSON string escapes (with or without `\uXXXX` for non-ASCII) and shell
/// escapes (backslashes, single quotes).
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
            .flat_map(with_lines)
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

    /// Whether `bytes` hold a secret in any form `redact` masks.
    pub fn finds(&self, bytes: &[u8]) -> bool {
        self.longest > 0 && (self.matcher.is_none() || !self.occurrences(bytes).is_empty())
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

/// A secret and, when it spans lines (a PEM key, a kubeconfig), each of its lines long
/// enough to matter: a script that prints the file line by line leaks none of them.
fn with_lines(secret: &str) -> Vec<&str> {
    let mut parts = vec![secret];
    if secret.contains('\n') {
        parts.extend(
            secret
                .lines()
                .map(str::trim)
                .filter(|line| line.len() >= MIN_LINE),
        );
    }
    parts
}

/// Shortest line of a multi-line secret that is masked on its own; shorter ones
/// (`-----END`, a lone brace) are common text.
const MIN_LINE: usize = 12;

fn encodings(secret: &str) -> Vec<Vec<u8>> {
    let bytes = secret.as_bytes();
    let hex = crate::hex(bytes);
    let mut forms = vec![
        bytes.to_vec(),
        STANDARD.encode(bytes).into_bytes(),
        STANDARD_NO_PAD.encode(bytes).into_bytes(),
        URL_SAFE.encode(bytes).into_bytes(),
        URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        hex.to_ascii_uppercase().into_bytes(),
        hex.into_bytes(),
        json_escape(secret, false).into_bytes(),
        json_escape(secret, true).into_bytes(),
        shell_escape(secret).into_bytes(),
        secret.replace('\'', r"'\''").into_bytes(),
        secret.replace('\'', r#"'"'"'"#).into_bytes(),
    ];
    for percent in [
        percent_encode(bytes, false),
        percent_encode(bytes, true),
        percent_encode_all(bytes),
    ] {
        forms.push(lowercase_escapes(&percent).into_bytes());
        forms.push(percent.into_bytes());
    }
    for alphabet in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        forms.extend(base64_inside(bytes, alphabet));
    }
    forms
}

/// The characters of base64 that only the secret's bytes decide, when the secret sits
/// 0, 1 or 2 bytes into a group of a longer encoded string. Shorter than
/// [`MIN_INSIDE`] they would mask ordinary text, and are left out.
fn base64_inside(
    bytes: &[u8],
    alphabet: &base64::engine::GeneralPurpose,
) -> impl Iterator<Item = Vec<u8>> {
    (0..3usize).filter_map(move |offset| {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        let encoded = alphabet.encode(&padded).into_bytes();
        // Character i holds bits 6i..6i+6; keep those wholly within the secret's bits.
        let (first, end) = ((8 * offset).div_ceil(6), 8 * (offset + bytes.len()) / 6);
        let inside = encoded.get(first..end)?.to_vec();
        (inside.len() >= MIN_INSIDE).then_some(inside)
    })
}

/// Shortest base64 fragment masked inside a longer encoded string.
const MIN_INSIDE: usize = 6;

/// The secret as a JSON string's contents; `ascii` escapes every non-ASCII character
/// as `\uXXXX` (UTF-16, as Python's `json.dumps` does by default).
fn json_escape(secret: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(secret.len() + 8);
    for c in secret.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The secret with a backslash before every character a shell would interpret, as
/// `printf %q` and hand-written scripts write it.
fn shell_escape(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len() * 2);
    for c in secret.chars() {
        if " \t!\"#$&'()*;<>?[\\]^`{|}~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `%2F` as `%2f`: the hex digits of each escape in lower case, the rest unchanged.
fn lowercase_escapes(percent: &str) -> String {
    let mut out = String::with_capacity(percent.len());
    let mut hex_left = 0;
    for c in percent.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
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

    /// Whether any 5 bytes of `secret` in a row can be read back from `text` by
    /// decoding its base64 runs at every start: an oracle that knows nothing of how
    /// the redactor builds its forms.
    fn base64_reveals(text: &str, secret: &str) -> bool {
        let windows: Vec<&[u8]> = secret.as_bytes().windows(5).collect();
        let runs = text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/-_".contains(c)));
        runs.filter(|run| run.len() >= 4).any(|run| {
            (0..4).any(|start| {
                let piece = &run[start.min(run.len())..];
                let piece = &piece[..piece.len() - piece.len() % 4];
                [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD].iter().any(|alphabet| {
                    alphabet.decode(piece).is_ok_and(|decoded| {
                        windows.iter().any(|w| decoded.windows(5).any(|d| d == *w))
                    })
                })
            })
        })
    }

    #[test]
    fn a_secret_inside_a_longer_base64_string_is_masked_at_every_alignment() {
        let secret = "p\"ss/w\u{f6}rd:K3y!";
        let redactor = Redactor::new([secret]);
        for prefix in ["", "s", "sv", "svc:", "user-01:"] {
            for suffix in ["", "x", "@host:443"] {
                let plain = format!("{prefix}{secret}{suffix}");
                for encoded in [STANDARD.encode(&plain), URL_SAFE_NO_PAD.encode(&plain)] {
                    assert!(base64_reveals(&encoded, secret), "the oracle works");
                    let line = format!("Authorization: Basic {encoded}");
                    let out = String::from_utf8(redactor.redact(line.as_bytes())).unwrap();
                    assert!(out.contains(MASK), "{prefix:?} {suffix:?}: {out}");
                    assert!(
                        !base64_reveals(&out, secret),
                        "{prefix:?} {suffix:?}: {out}"
                    );
                }
            }
        }
    }

    #[test]
    fn escaped_and_lower_case_forms_are_masked() {
        let secret = "p\"ss/w\u{f6}rd:K3y!'x";
        let forms = [
            // JSON, as serde_json and as Python's json.dumps (ensure_ascii) write it.
            serde_json::to_string(secret)
                .unwrap()
                .trim_matches('"')
                .to_owned(),
            r#"p\"ss/w\u00f6rd:K3y!'x"#.to_owned(),
            // Percent-encoding with lower-case hex.
            "p%22ss%2fw%c3%b6rd%3aK3y%21%27x".to_owned(),
            // Shell: backslashes, and a single-quoted string's quote.
            "p\\\"ss/w\u{f6}rd:K3y\\!\\'x".to_owned(),
            "p\"ss/w\u{f6}rd:K3y!'\\''x".to_owned(),
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
