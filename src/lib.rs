//! hrsync: make an LDAP or Active Directory directory follow the HR system.
//!
//! Data flows one way: HR source -> normalised [`model::Employee`]s -> desired accounts
//! ([`mapping`]) -> [`plan`] (desired vs observed directory, pure) -> [`render`] or [`apply`].

pub mod config;
pub mod dn;
pub mod hr;
pub mod model;
