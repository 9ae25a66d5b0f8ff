//! Mapping templates (hrsync::mapping::Template): any source string, rendered with any values.
//!
//! Input: the template source up to the first newline; after it, field values separated by
//! U+001F, given to the template's fields in order.
//!
//! Checked besides "no panic": parsing is deterministic and keeps the source; a template without
//! fields renders its literal text; rendering either fails naming a field the template reads or
//! succeeds; and each filter keeps its promise on any value (alnum, lower, max:N, initial,
//! localpart, trim).

#![no_main]

use hrsync::mapping::Template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, rest) = text.split_once('\n').unwrap_or((text, ""));
    let values: Vec<&str> = rest.split('\u{1f}').collect();

    match Template::parse(source) {
        Ok(template) => {
            assert_eq!(template.to_string(), source, "the source is kept");
            assert_eq!(
                Template::parse(source).as_ref(),
                Ok(&template),
                "deterministic"
            );
            let names: Vec<&str> = template.fields().collect();
            let lookup = |name: &str| {
                names
                    .iter()
                    .position(|n| *n == name)
                    .and_then(|i| values.get(i).copied())
            };
            match template.render(lookup) {
                Ok(out) => {
                    if names.is_empty() {
                        assert_eq!(out, source.replace("{{", "{").replace("}}", "}"));
                    }
                }
                Err(missing) => assert!(names.contains(&missing.0.as_str()), "{missing:?}"),
            }
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
        }
    }

    for value in &values {
        let render = |source: &str| {
            Template::parse(source)
                .expect("fixed template")
                .render(|_| Some(value))
        };
        if let Ok(out) = render("{v|ascii|lower|alnum}") {
            assert!(
                out.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c)),
                "{value:?} -> {out:?}"
            );
        }
        if let Ok(out) = render("{v|alnum}") {
            assert!(
                out.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
            );
        }
        if let Ok(out) = render("{v|max:3}") {
            assert!(out.chars().count() <= 3);
            assert!(value.starts_with(&out));
        }
        if let Ok(out) = render("{v|initial}") {
            assert_eq!(out.chars().count(), 1);
        }
        if let Ok(out) = render("{v|localpart}") {
            assert!(!out.contains('@'));
        }
        if let Ok(out) = render("{v|trim}") {
            assert_eq!(out, value.trim());
        }
        if let Ok(out) = render("{v|lower}") {
            assert_eq!(out, value.to_lowercase());
        }
        // An empty result is refused, never written.
        assert!(render("{v|alnum}").map_or(true, |out| !out.is_empty()));
    }
});
