//! Sage Runner's worker: everything but the thin `main.rs`.

pub mod docker;
pub mod sandbox;
pub mod settings;
pub mod startup;
