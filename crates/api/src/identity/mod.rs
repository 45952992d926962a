//! Who is calling and what they may do: bearer tokens or the demo header, the issuer's
//! keys, the cache of callers seen lately, and every access rule.

pub mod access;
pub mod auth;
pub mod caller;
pub mod oidc;
pub mod signed_in;
