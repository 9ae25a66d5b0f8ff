//! hrsync: make an LDAP directory follow the HR system.
//!
//! Data flows one way: HR source ([`hr`]) -> normalised [`model::Employee`]s -> desired accounts
//! ([`mapping`]) -> [`plan`] (desired vs observed directory; pure, no I/O, no clock) -> [`render`],
//! or [`apply`] through the [`directory`] adapter -> [`journal`] -> [`audit`], [`hooks`],
//! [`metrics`]. Every command runs through the one pipeline in [`app::pipeline`].
//!
//! The modules form four layers, and a module imports only from its own layer or the layers
//! below (`tests/layers.rs` fails otherwise, and on any import cycle):
//!
//! 1. vocabulary: [`dn`], [`attributes`], [`model`], [`problem`], [`secret`], [`schedule`];
//! 2. pure domain, no I/O and no clock: [`events`] (webhooks checked, their ids, the queue),
//!    [`mapping`], [`plan`], [`render`];
//! 3. adapters, each owning its configuration section: [`hr`], [`directory`], [`apply`],
//!    [`journal`], [`audit`], [`hooks`], [`metrics`], [`progress`], [`files`];
//! 4. application: [`config`] (loading `hrsync.toml` with the environment overlay), [`cli`],
//!    [`app`] (the pipeline, one module per command, the daemon and its HTTP endpoints, and the
//!    one place the clock is read).

// vocabulary
pub mod attributes;
pub mod dn;
pub mod model;
pub mod problem;
pub mod schedule;
pub mod secret;

// pure domain
pub mod events;
pub mod mapping;
pub mod plan;
pub mod render;

// adapters
pub mod apply;
pub mod audit;
pub mod directory;
pub mod files;
pub mod hooks;
pub mod hr;
pub mod journal;
pub mod metrics;
pub mod progress;

// application
pub mod app;
pub mod cli;
pub mod config;
