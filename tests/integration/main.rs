//! Integration tests: the hrsync binary against a real slapd (started by the harness, or the
//! server named by HRSYNC_TEST_LDAP_URL) and an HR API served by wiremock.
//!
//! Each test gets its own directory subtree, its own HR mock and its own config directory, and
//! asserts the directory state entry by entry with the OpenLDAP command-line tools, which are
//! independent of the code under test.

#[path = "../support/mod.rs"]
mod support;

mod scenario;

mod absence;

mod access;
mod active_directory;
mod apply_order;
mod approval_page;
mod audit;
mod bad_input;
mod batching;
mod cli;
mod corpus;
mod demo;
mod ds389;
mod edges;
mod endpoints;
mod events;
mod explain_report;
mod faults;
mod hr_limits;
mod init;
mod joiner_interrupted;
mod lease;
mod lifecycle;
mod limits;
mod offboard;
mod operations;
mod pipeline;
mod plan_schema;
mod plan_view;
mod policies;
mod saved_plans;
mod scope;
mod secrets;
mod sync;
mod tls;
