//! Evidence reports as they are asked for: the language a report is written in, which
//! the api checks at the request and the worker writes in.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Ko,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ko => "ko",
        }
    }

    /// The title of a report whose request names none.
    pub fn default_title(self) -> &'static str {
        match self {
            Self::En => "Cloud security evidence report",
            Self::Ko => "클라우드 보안 증적 보고서",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "en" => Ok(Self::En),
            "ko" => Ok(Self::Ko),
            other => Err(format!("{other:?} is not one of en, ko")),
        }
    }
}
