//! The api's types, generated from `openapi.json` at build time (see build.rs).

#![allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unused_imports,
    reason = "generated code"
)]

include!(concat!(env!("OUT_DIR"), "/api.rs"));
