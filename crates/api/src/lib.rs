//! Sage Runner's HTTP api: everything but the thin `main.rs`, so tests can start the
//! whole application on a random port.

pub mod background;
pub mod catalog;
pub mod http;
pub mod identity;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod submission;
