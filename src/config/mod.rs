//! Configuration: raw serde structs, parsed from TOML, then validated.

mod problem;
mod secret;

pub use problem::ConfigProblem;
pub use secret::{SecretError, SecretRef};
