//! hrsync: make an LDAP directory follow the HR system.
//!
//! Data flows one way: HR source ([`hr`]) -> normalised [`model::Employee`]s -> desired accounts
//! ([`mapping`]) -> [`plan`] (desired vs observed directory; pure, no I/O, no clock) -> [`render`]
//! or [`apply`] through the [`directory`] adapter.

pub mod apply;
pub mod attributes;
pub mod audit;
pub mod check;
pub mod cli;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod directory;
pub mod dn;
pub mod explain;
pub mod hooks;
pub mod hr;
pub mod mapping;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod progress;
pub mod render;
pub mod report;
pub mod run;
pub mod schedule;
pub mod serve;
