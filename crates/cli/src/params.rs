//! `-p name=value` as the module's parameter schema types it: numbers and booleans
//! become JSON numbers and booleans, `name=@FILE` the file's text and `name=@-` standard
//! input (one final newline dropped), so a secret never needs to be typed on a command
//! line; a required secret left out is asked for at the terminal, without echo.

use std::io::{IsTerminal, Read};

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
        let read = match raw.strip_prefix('@') {
            Some("-") => {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text).map(|_| text)
            }
            Some(path) => std::fs::read_to_string(path),
            None => {
                if is_secret(schema, name) {
                    eprintln!(
                        "sage: {name} is a secret, and a command line is kept in your shell's history and shown to other users of this host: give it as {name}=@FILE, or leave it out to be asked"
                    );
                }
                Ok(raw.to_owned())
            }
        };
        let text = match read {
            Ok(text) if raw.starts_with('@') => text.strip_suffix('\n').unwrap_or(&text).to_owned(),
            Ok(text) => text,
            Err(e) => {
                problems.push((field, format!("cannot read {}: {e}", &raw[1..])));
                continue;
            }
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

fn is_secret(schema: &Map<String, Value>, name: &str) -> bool {
    schema
        .get("properties")
        .and_then(|p| p.get(name))
        .is_some_and(|p| p.get("writeOnly") == Some(&Value::Bool(true)))
}

/// Asks at the terminal, without echo, for each required secret of `schema` that
/// `params` lacks; nothing when standard input is not a terminal (the api then names
/// what is missing).
pub fn ask_for_secrets(
    params: &mut Map<String, Value>,
    schema: &Map<String, Value>,
) -> Result<(), ClientError> {
    if !std::io::stdin().is_terminal() {
        return Ok(());
    }
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for name in required {
        if params.contains_key(name) || !is_secret(schema, name) {
            continue;
        }
        let value = rpassword::prompt_password(format!("{name} (secret, not shown): "))
            .map_err(|e| ClientError::Unreadable(format!("reading {name} at the terminal: {e}")))?;
        params.insert(name.to_owned(), Value::String(value));
    }
    Ok(())
}
