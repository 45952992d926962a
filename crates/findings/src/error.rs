//! Why an input could not be read: always with the file and, for malformed content,
//! the position, so the user can open the file at the place.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{position}: {message}")]
    Malformed {
        file: String,
        position: Position,
        message: String,
    },
}

/// A place in a text file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    /// 0 when only the line is known (CSV records).
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column == 0 {
            write!(f, "{}", self.line)
        } else {
            write!(f, "{}:{}", self.line, self.column)
        }
    }
}

impl ParseError {
    pub(crate) fn io(file: &str, source: std::io::Error) -> Self {
        Self::Io {
            file: file.to_owned(),
            source,
        }
    }

    /// A JSON syntax or shape error; serde_json knows where it happened.
    pub(crate) fn json(file: &str, error: &serde_json::Error) -> Self {
        if error.is_io() {
            return Self::io(file, std::io::Error::other(error.to_string()));
        }
        Self::Malformed {
            file: file.to_owned(),
            position: Position {
                line: error.line() as u64,
                column: error.column() as u64,
            },
            message: strip_position(&error.to_string()),
        }
    }

    pub(crate) fn csv(file: &str, error: &csv::Error) -> Self {
        let line = error.position().map_or(0, csv::Position::line);
        match error.kind() {
            csv::ErrorKind::Io(e) => Self::io(file, std::io::Error::new(e.kind(), e.to_string())),
            _ => Self::Malformed {
                file: file.to_owned(),
                position: Position { line, column: 0 },
                message: error.to_string(),
            },
        }
    }

    pub(crate) fn at_line(file: &str, line: u64, message: impl Into<String>) -> Self {
        Self::Malformed {
            file: file.to_owned(),
            position: Position { line, column: 0 },
            message: message.into(),
        }
    }
}

/// serde_json appends " at line L column C"; the position is shown up front instead.
fn strip_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}
