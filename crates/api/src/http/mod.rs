//! HTTP plumbing: the one mapping of errors to answers, the body extractor, request
//! ids, the OpenAPI document and the request metrics.

pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod ready;
pub mod request_id;
pub mod schema;
