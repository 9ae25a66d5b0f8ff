//! The employee ids a delivery names, and nothing else from it: hrsync reads each of those
//! employees again from the HR API, so a payload's fields (a status, a date) are never used.
//!
//! - BambooHR: the event-based webhooks
//!   (<https://documentation.bamboohr.com/docs/event-based-webhooks>) send `{"type":
//!   "employee.updated", "timestamp": ..., "data": {"companyId", "employeeId",
//!   "changedFields"}}` (a `company.*` event names nobody); the field-based ones
//!   (<https://documentation.bamboohr.com/docs/field-based-webhooks>) `{"employees": [{"id":
//!   "123", "action", "changedFields": [...], "fields": {...}}, ...]}`. Ids as strings or
//!   numbers. The webhook must send JSON (BambooHR can also send form fields).
//! - HiBob webhooks v2 (<https://apidocs.hibob.com/docs/working-with-webhooks>): one event per
//!   delivery, `{"companyId": ..., "type": "employee.updated", "triggeredAt": ..., "data":
//!   {"employeeId": "...", ...}, "version": "v2"}`; an event without `data.employeeId` (a
//!   table or a time-off event) names nobody. Bob's connection check ("Ping test") names
//!   nobody either ([`is_ping`]).
//! - Standard Webhooks: the sender's own payload; the source's `employee_ids` JSONPath says
//!   where the id(s) are.

use serde_json::Value;
use serde_json_path::JsonPath;

use super::verify::Scheme;

/// The longest id accepted: HR ids are short; anything longer is a mistake or an attack.
const ID_MAX_LEN: usize = 256;

/// The ids `body` names, deduplicated, in order.
pub fn employee_ids(
    scheme: Scheme,
    body: &[u8],
    ids_path: Option<&JsonPath>,
) -> Result<Vec<String>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let found: Vec<&Value> = match scheme {
        // The event-based webhooks: `{"type": "employee.updated", "data": {"employeeId"}}`
        // (a `company.*` event names nobody).
        Scheme::Bamboohr if value.get("type").is_some() => value
            .get("data")
            .and_then(|d| d.get("employeeId"))
            .into_iter()
            .collect(),
        // The field-based ones: `{"employees": [{"id", ...}]}`.
        Scheme::Bamboohr => {
            let employees = value
                .get("employees")
                .and_then(Value::as_array)
                .ok_or("BambooHR's payload has no \"employees\" array nor an event \"type\"")?;
            employees
                .iter()
                .map(|e| e.get("id").ok_or("an entry of \"employees\" has no \"id\""))
                .collect::<Result<_, _>>()?
        }
        Scheme::Hibob => {
            if !value.is_object() {
                return Err("HiBob's payload is not an object".to_string());
            }
            value
                .get("data")
                .and_then(|d| d.get("employeeId"))
                .into_iter()
                .collect()
        }
        Scheme::StandardWebhooks => {
            let path = ids_path.ok_or(
                "a standard_webhooks source needs employee_ids = \"$.path\" to find the ids",
            )?;
            let found = path.query(&value).all();
            if found.is_empty() {
                return Err("employee_ids matches nothing in the payload".to_string());
            }
            found
        }
    };
    let mut ids: Vec<String> = Vec::new();
    for value in found {
        let id = id(value)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Whether `body` is HiBob's connection check, sent unsigned when a webhook is set up and to
/// be answered 2xx: it names nobody, so answering it changes nothing.
pub fn is_ping(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    text == "Ping test"
        || text == "\"Ping test\""
        || serde_json::from_str::<Value>(text)
            .is_ok_and(|v| v == serde_json::json!({"text": "Ping test"}))
}

/// One id: a non-empty string (or an integer) without control characters, at most 256 bytes.
fn id(value: &Value) -> Result<String, String> {
    let id = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return Err("an employee id is neither a string nor an integer".to_string()),
    };
    let shown: String = id.chars().take(20).filter(|c| !c.is_control()).collect();
    if id.is_empty() {
        Err("an employee id is empty".to_string())
    } else if id.len() > ID_MAX_LEN {
        Err(format!(
            "employee id {shown:?}... is longer than {ID_MAX_LEN} bytes"
        ))
    } else if id.chars().any(char::is_control) {
        Err(format!("employee id {shown:?} holds a control character"))
    } else {
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BambooHR's documented webhook payload shape (documentation.bamboohr.com/docs/webhooks).
    #[test]
    fn bamboohr_names_every_employee_of_the_delivery() {
        let body = br#"{"employees":[
            {"id":"123","timestamp":"2026-12-04T10:00:00+00:00","changedFields":["Status"],"fields":{"Status":"Inactive"}},
            {"id":456,"changedFields":["Job Title"],"fields":{"Job Title":"Engineer"}},
            {"id":"123","changedFields":["Department"],"fields":{}}]}"#;
        assert_eq!(
            employee_ids(Scheme::Bamboohr, body, None).unwrap(),
            ["123", "456"]
        );
        let event = br#"{"type":"employee.updated","timestamp":"2026-12-04T10:00:00Z","data":{"companyId":1,"employeeId":"123","changedFields":["status"]}}"#;
        assert_eq!(
            employee_ids(Scheme::Bamboohr, event, None).unwrap(),
            ["123"]
        );
        let company = br#"{"type":"company.updated","data":{"companyId":1}}"#;
        assert!(
            employee_ids(Scheme::Bamboohr, company, None)
                .unwrap()
                .is_empty()
        );
        assert!(employee_ids(Scheme::Bamboohr, br#"{"employee":{"id":"1"}}"#, None).is_err());
        assert!(employee_ids(Scheme::Bamboohr, br#"{"employees":[{"name":"x"}]}"#, None).is_err());
        assert!(employee_ids(Scheme::Bamboohr, b"not json", None).is_err());
        assert!(employee_ids(Scheme::Bamboohr, br#"{"employees":[{"id":""}]}"#, None).is_err());
        assert!(
            employee_ids(Scheme::Bamboohr, br#"{"employees":[{"id":{"a":1}}]}"#, None).is_err()
        );
        assert!(employee_ids(Scheme::Bamboohr, br#"{"employees":[{"id":"a\nb"}]}"#, None).is_err());
        let long = format!(r#"{{"employees":[{{"id":"{}"}}]}}"#, "9".repeat(300));
        let error = employee_ids(Scheme::Bamboohr, long.as_bytes(), None).unwrap_err();
        assert!(error.len() < 120, "the hostile id was echoed: {error}");
    }

    #[test]
    fn hibob_names_the_events_employee_or_nobody() {
        let body = br#"{"companyId":638582,"type":"employee.left","triggeredBy":"3332883804594373380","triggeredAt":"2026-12-04T10:00:00.000Z","data":{"employeeId":"3332883884017713238","displayName":"Ann Other"},"version":"v2"}"#;
        assert_eq!(
            employee_ids(Scheme::Hibob, body, None).unwrap(),
            ["3332883884017713238"]
        );
        let table = br#"{"type":"table.entry.created","data":{"tableId":"x"},"version":"v2"}"#;
        assert!(employee_ids(Scheme::Hibob, table, None).unwrap().is_empty());
        assert!(employee_ids(Scheme::Hibob, b"[1]", None).is_err());
        assert!(is_ping(b"Ping test") && is_ping(br#"{"text":"Ping test"}"#));
        assert!(!is_ping(body));
    }

    #[test]
    fn standard_webhooks_reads_the_configured_path() {
        let path = JsonPath::parse("$.data.employee_id").unwrap();
        let body = br#"{"type":"employee.terminated","data":{"employee_id":"E-42"}}"#;
        assert_eq!(
            employee_ids(Scheme::StandardWebhooks, body, Some(&path)).unwrap(),
            ["E-42"]
        );
        let many = JsonPath::parse("$.employees[*].id").unwrap();
        let body = br#"{"employees":[{"id":"1"},{"id":2}]}"#;
        assert_eq!(
            employee_ids(Scheme::StandardWebhooks, body, Some(&many)).unwrap(),
            ["1", "2"]
        );
        assert!(employee_ids(Scheme::StandardWebhooks, br#"{"other":1}"#, Some(&path)).is_err());
        assert!(employee_ids(Scheme::StandardWebhooks, body, None).is_err());
    }
}
