//! Sage Runner's worker: everything but the thin `main.rs`.

pub mod accounts;
pub mod artifacts;
pub mod consumer;
pub mod context;
pub mod control;
pub mod docker;
pub mod evidence;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod sandbox;
pub mod scanner_image;
pub mod settings;
pub mod startup;
pub mod sts;
pub mod tool_runs;
