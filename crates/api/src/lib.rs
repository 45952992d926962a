//! Sage Runner's HTTP api: everything but the thin `main.rs`, so tests can start the
//! whole application on a random port.

pub mod access;
pub mod approvals;
pub mod auth;
pub mod builtin;
pub mod error;
pub mod extract;
pub mod library;
pub mod live;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod relay;
pub mod request_id;
pub mod routes;
pub mod schema;
pub mod seed;
pub mod settings;
pub mod signed_in;
pub mod startup;
pub mod state;
pub mod submission;
pub mod webhook;
