//! Helpers the HR source tests share (`hr_sources`, `hr_resilience`, `hr_presets`,
//! `hr_preset_faults`, `hr_scim`): secrets in files, configs that must validate, JSON answers.
//!
//! Each test crate uses part of this module.
#![allow(dead_code)]

use chrono::{NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use tempfile::TempDir;
use wiremock::ResponseTemplate;

use hrsync::hr::HrConfig;
use hrsync::model::{Employee, EmploymentStatus};

/// The day the HR tests run on (statuses that depend on dates are decided against it).
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 15).expect("a date")
}

/// The status the planner decides for `employee` at the start of [`today`] in UTC: HR's status
/// as read, with what the dates make of it on that day.
pub fn status_today(employee: &Employee) -> EmploymentStatus {
    hrsync::plan::effective_status(
        employee.hr_status,
        employee.hire_date,
        employee.termination_date,
        today().and_time(NaiveTime::MIN).and_utc(),
        &Utc,
    )
    .status
}

/// A secret in a file, as a config reference (tests never set environment variables: they run
/// in parallel).
pub fn secret(dir: &TempDir, name: &str, value: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{value}\n")).expect("write secret file");
    format!("{{ file = \"{}\" }}", path.display())
}

/// The `[hr]` table in `text`, which must parse and validate without a problem.
pub fn config(text: &str) -> HrConfig {
    let config: HrConfig = toml::from_str(text).expect("the test config parses");
    let problems = config.validate();
    assert!(problems.is_empty(), "{problems:?}\n{text}");
    config
}

/// A 200 answer with this JSON body.
pub fn json_ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}
