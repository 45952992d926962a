//! `-p name=value` as the module's parameter schema types it: numbers and booleans
//! become JSON numbers and booleans, `name=@FILE` the file's text (one final newline
//! dropped), so a secret never needs to be typed on a command line.

use serde_json::{Map, Value};

use crate::client::ClientError;

pub fn parse(
    given: &[String],
    schema: &Map<String, Value>,
) -> Result<Map<String, Value>, ClientError> {
    let mut params = Map::new();
    let mut problems = Vec::new();
    for pair in given {
        let Some((name, raw)) = pair.split_once('=') else {
            problems.push(("param".to_owned(), format!("{pair:?} is not name=value")));
            continue;
        };
        let field = format!("params.{name}");
        let text = match raw.strip_prefix('@') {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => text.strip_suffix('\n').unwrap_or(&text).to_owned(),
                Err(e) => {
                    problems.push((field, format!("cannot read {path}: {e}")));
                    continue;
                }
            },
            None => raw.to_owned(),
        };
        let kind = schema
            .get("properties")
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str);
        let value = match kind {
            Some("integer") => text.parse::<i64>().map(Value::from).ok(),
            Some("number") => text.parse::<f64>().ok().map(Value::from),
            Some("boolean") => text.parse::<bool>().map(Value::from).ok(),
            _ => Some(Value::String(text)),
        };
        match value {
            Some(value) => {
                params.insert(name.to_owned(), value);
            }
            None => problems.push((field, format!("must be {}", kind.unwrap_or("a value")))),
        }
    }
    if problems.is_empty() {
        Ok(params)
    } else {
        Err(ClientError::Refused {
            status: reqwest::StatusCode::BAD_REQUEST,
            message: "the parameters do not hold".to_owned(),
            fields: problems,
        })
    }
}
