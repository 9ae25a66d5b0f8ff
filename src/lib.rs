//! hrsync: make an LDAP directory follow the HR system.
//!
//! Data flows one way: HR source ([`hr`]) -> normalised [`model::Employee`]s -> desired accounts
//! ([`mapping`]) -> [`plan`] (desired vs observed directory; pure, no I/O, no clock) -> [`render`]
//! or [`apply`] through the [`directory`] adapter.

pub mod app;
pub mod apply;
pub mod attributes;
pub mod audit;
pub mod cli;
pub mod config;
pub mod directory;
pub mod dn;
pub mod hooks;
pub mod hr;
pub mod journal;
pub mod mapping;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod problem;
pub mod progress;
pub mod render;
pub mod schedule;
pub mod secret;
