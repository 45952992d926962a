//! `ValidatedJson<T>`: a JSON body parsed with the path of whatever failed, so a wrong
//! type deep inside a module definition is refused naming `params[2].max`, not "body".

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, FieldProblem};

/// Largest JSON body accepted; module definitions are the biggest legitimate bodies.
pub const JSON_LIMIT: usize = 256 * 1024;

pub struct ValidatedJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ValidatedJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = request
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = web::Bytes::from_request(request, payload);
        Box::pin(async move {
            if !is_json {
                return Err(problem("body", "must be sent as application/json"));
            }
            let bytes = body
                .await
                .map_err(|_| problem("body", "is too large or unreadable"))?;
            if bytes.len() > JSON_LIMIT {
                return Err(problem("body", "is too large"));
            }
            parse(&bytes).map(ValidatedJson)
        })
    }
}

fn problem(field: &str, message: &str) -> ApiError {
    ApiError::invalid(vec![FieldProblem::new(field, message)])
}

/// Parses and names the failing field: the path serde reached, plus the field named
/// by a "missing field" complaint.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // The path already ends at an unknown field; a missing one is named only in
        // the message, below the path of its parent.
        let missing = backticked(&message).filter(|_| message.starts_with("missing field"));
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => "body".to_owned(),
            (parent, Some(name)) => format!("{parent}.{name}"),
            (path, None) => path.to_owned(),
        };
        problem(&field, &message)
    })?;
    deserializer
        .end()
        .map_err(|_| problem("body", "has trailing characters after the JSON value"))?;
    Ok(value)
}

fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        max: u32,
    }

    fn field_of(json: &str) -> String {
        match parse::<Outer>(json.as_bytes()) {
            Err(ApiError::Validation { fields, .. }) => fields[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failures_name_their_path() {
        assert_eq!(field_of(r#"{"name": 5, "inner": []}"#), "name");
        assert_eq!(
            field_of(r#"{"name": "x", "inner": [{"max": 1}, {"max": -1}]}"#),
            "inner[1].max"
        );
        assert_eq!(
            field_of(r#"{"name": "x", "inner": [], "extra": 1}"#),
            "extra"
        );
        assert_eq!(
            field_of(r#"{"name": "x", "inner": [{"max": 1, "min": 0}]}"#),
            "inner[0].min"
        );
        assert_eq!(field_of(r#"{"inner": []}"#), "name");
        assert_eq!(field_of(r#"{"name": "x", "inner": [{}]}"#), "inner[0].max");
        assert_eq!(field_of(r#"{"name": "x", "inner": [{}]}"#), "inner[0].max");
        assert_eq!(field_of("not json"), "body");
        assert_eq!(field_of(r#"{"name": "x", "inner": []} trailing"#), "body");
    }
}
