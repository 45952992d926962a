//! What the api installs and seeds: the built-in tools, the script library, the sample
//! catalog.

pub mod builtin;
pub mod library;
pub mod seed;
