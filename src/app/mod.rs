//! The application layer: configuration loading, the one pipeline every command runs through,
//! one module per command, and the daemon with its HTTP endpoints.

pub mod commands;
pub mod cycle;
pub mod daemon;
mod outcome;
pub mod pipeline;
pub mod serve;

pub use outcome::{Outcome, RunError};
