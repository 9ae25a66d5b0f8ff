//! HR answers as they come off the wire: bytes -> JSON -> records -> normalised employees
//! (hrsync::hr::normalize, with the integration tests' BambooHR field map) -> the
//! account mapping's templates -> DNs.
//!
//! Checked besides "no panic": every record is either an employee or a rejection; employees'
//! ids are unique and non-empty; no value kept has a control character or exceeds the length
//! limit; a user name rendered with `ascii|lower|alnum` holds only [a-z0-9._-]; and any rendered
//! value put into a DN comes back out of the DN unchanged (escaping round-trips).

#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use hrsync::dn::Dn;
use hrsync::hr::HrConfig;
use hrsync::mapping::Template;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const HR: &str = r#"
source = "rest"

[rest]
url = "https://hr.example.test/api/gateway.php/acme/v1/reports/employees"
records = "/employees"

[fields]
id = "$.id"
first_name = "$.firstName"
last_name = "$.lastName"
email = "$.workEmail"
title = "$.jobTitle"
department = ["$.department", "$.dept.name"]
location = "$.location"
employment_type = "$.employmentHistoryStatus"
manager_id = "$.supervisorEId"
hire_date = "$.hireDate"
termination_date = "$.terminationDate"

[status]
path = ["$.status", "$.employmentStatus"]
active = ["Active"]
leave = ["On Leave"]
pending = ["Pending"]
terminated = ["Inactive", "Terminated"]
"#;

struct Fixture {
    config: HrConfig,
    uid: Template,
    cn: Template,
    mail: Template,
    parent: Dn,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        config: toml::from_str(HR).expect("fixture HR config"),
        uid: Template::parse("{first_name|ascii|lower|alnum}.{last_name|ascii|lower|alnum}")
            .expect("uid template"),
        cn: Template::parse("{first_name} {last_name}").expect("cn template"),
        mail: Template::parse("{email|lower|trim}").expect("mail template"),
        parent: Dn::parse("ou=people,dc=example,dc=org").expect("parent DN"),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let records = match body {
        Value::Array(records) => records,
        Value::Object(mut object) => match object.remove("employees") {
            Some(Value::Array(records)) => records,
            _ => return,
        },
        _ => return,
    };
    let f = fixture();
    let snapshot = hrsync::hr::normalize(&records, &f.config.fields, &f.config.status);

    assert_eq!(
        snapshot.employees.len() + snapshot.rejected.len(),
        records.len(),
        "every record is an employee or a rejection"
    );
    let mut ids = BTreeSet::new();
    for employee in &snapshot.employees {
        assert!(!employee.id.is_empty());
        assert!(ids.insert(employee.id.clone()), "duplicate id kept");
        for value in employee
            .fields
            .values()
            .chain(std::iter::once(&employee.id))
        {
            assert!(!value.is_empty(), "empty values are left out");
            assert!(
                !value.chars().any(char::is_control),
                "control character kept"
            );
            assert!(value.chars().count() <= 1024, "over-long value kept");
        }
        let lookup = |name: &str| employee.fields.get(name).map(String::as_str);
        if let Ok(uid) = f.uid.render(lookup) {
            assert!(
                uid.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c)),
                "uid {uid:?}"
            );
            round_trip("uid", &uid, &f.parent);
        }
        for template in [&f.cn, &f.mail] {
            if let Ok(value) = template.render(lookup) {
                round_trip("cn", &value, &f.parent);
            }
        }
        round_trip("employeeNumber", &employee.id, &f.parent);
    }
    for rejected in &snapshot.rejected {
        assert!(rejected.index < records.len());
        assert!(!rejected.problem.is_empty());
        if let Some(id) = &rejected.id {
            assert!(
                !id.chars().any(char::is_control),
                "a rejected id is echoed only when clean"
            );
        }
    }
});

/// A value escaped into an RDN parses back to exactly that value, under exactly that parent.
fn round_trip(attr: &str, value: &str, parent: &Dn) {
    let dn = Dn::child(attr, value, parent).unwrap_or_else(|e| panic!("{attr}={value:?}: {e}"));
    let avas = dn.rdn_avas();
    assert_eq!(avas.len(), 1, "{dn}: one AVA");
    assert!(avas[0].attr.eq_ignore_ascii_case(attr));
    assert_eq!(avas[0].value, value, "{dn}");
    assert_eq!(dn.parent().as_ref(), Some(parent), "{dn}");
}
