//! Attribute templates: `"{first_name} {last_name}"`, `"{first_name|ascii|lower|alnum}"`.
//!
//! A template is parsed once, when the mappings are loaded, so a typo in a field or filter name
//! is a validation error rather than a surprise in the middle of a run. Rendering is total: it
//! either yields a value or says which field was empty.

use std::fmt;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field { name: String, filters: Vec<Filter> },
}

/// Transformations applied to a field's value, left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Lower-case.
    Lower,
    /// Upper-case.
    Upper,
    /// Transliterate to ASCII (`Zoë Ångström` -> `Zoe Angstrom`).
    Ascii,
    /// Keep only ASCII letters, digits, `.`, `-` and `_` (for user names).
    Alnum,
    /// Strip leading and trailing white space.
    Trim,
    /// The first character only (`{first_name|initial}` -> `J`).
    Initial,
    /// The part of an e-mail address before the `@`.
    Localpart,
    /// At most N characters (`{last_name|max:8}`): sAMAccountName allows 20.
    Max(usize),
    /// Escaped as the value of a DN's attribute (RFC 4514: `,` `+` `"` `\` `<` `>` `;`, NUL,
    /// a leading `#` or space and a trailing space), for a field inside a DN-valued
    /// attribute: `seeAlso = "cn={title|dn},ou=roles,dc=example,dc=org"`. The last filter, so
    /// that nothing cuts or changes an escape after it.
    Dn,
}

impl Filter {
    const ALL: [(&'static str, Filter); 8] = [
        ("lower", Filter::Lower),
        ("upper", Filter::Upper),
        ("ascii", Filter::Ascii),
        ("alnum", Filter::Alnum),
        ("trim", Filter::Trim),
        ("initial", Filter::Initial),
        ("localpart", Filter::Localpart),
        ("dn", Filter::Dn),
    ];

    fn parse(name: &str) -> Option<Self> {
        if let Some(n) = name.strip_prefix("max:") {
            return n.parse().ok().filter(|n| *n > 0).map(Filter::Max);
        }
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, filter)| *filter)
    }

    fn apply(self, value: &str) -> String {
        match self {
            Filter::Lower => value.to_lowercase(),
            Filter::Upper => value.to_uppercase(),
            Filter::Ascii => deunicode::deunicode(value),
            Filter::Alnum => value
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect(),
            Filter::Trim => value.trim().to_string(),
            Filter::Initial => value.chars().next().map(String::from).unwrap_or_default(),
            Filter::Localpart => value.split('@').next().unwrap_or_default().to_string(),
            Filter::Max(n) => value.chars().take(n).collect(),
            Filter::Dn => crate::dn::escape_value(value),
        }
    }
}

/// Why a template string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed '{{' in template \"{0}\"")]
    Unclosed(String),
    #[error("unmatched '}}' in template \"{0}\" (write '}}}}' for a literal brace)")]
    Unmatched(String),
    #[error("empty field name in template \"{0}\"")]
    EmptyField(String),
    #[error("unknown filter '{filter}' in template \"{template}\" (allowed: {allowed})")]
    UnknownFilter {
        template: String,
        filter: String,
        allowed: String,
    },
    #[error(
        "'dn' must be the last filter of {{{field}}} in template \"{template}\" (a filter after \
         it could cut or change an escape)"
    )]
    DnNotLast { template: String, field: String },
}

/// Rendering needs a value for every field the template names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField(pub String);

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Unmatched(source.to_string())),
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => inner.push(ch),
                            None => return Err(TemplateError::Unclosed(source.to_string())),
                        }
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Self::parse_field(source, &inner)?);
                }
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self {
            source: source.to_string(),
            parts,
        })
    }

    fn parse_field(source: &str, inner: &str) -> Result<Part, TemplateError> {
        let mut pieces = inner.split('|').map(str::trim);
        let name = pieces.next().unwrap_or_default();
        if name.is_empty() {
            return Err(TemplateError::EmptyField(source.to_string()));
        }
        let filters = pieces
            .map(|f| {
                Filter::parse(f).ok_or_else(|| TemplateError::UnknownFilter {
                    template: source.to_string(),
                    filter: f.to_string(),
                    allowed: Filter::ALL.map(|(n, _)| n).join(", ") + ", max:N",
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if filters
            .split_last()
            .is_some_and(|(_, before)| before.contains(&Filter::Dn))
        {
            return Err(TemplateError::DnNotLast {
                template: source.to_string(),
                field: name.to_string(),
            });
        }
        Ok(Part::Field {
            name: name.to_string(),
            filters,
        })
    }

    /// The field names this template reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The fields this template pastes in without the `dn` filter, in order.
    pub fn fields_not_dn_escaped(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { name, filters } if filters.last() != Some(&Filter::Dn) => {
                Some(name.as_str())
            }
            _ => None,
        })
    }

    /// Renders with `lookup` giving each field's value. A field with no value, or one whose
    /// filters leave nothing (`{first_name|alnum}` of `"李"`), makes the whole template empty:
    /// a half-rendered `"Smith, "` is never written to a directory.
    pub fn render<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<String, MissingField> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field { name, filters } => {
                    let raw = lookup(name).ok_or_else(|| MissingField(name.clone()))?;
                    let value = filters
                        .iter()
                        .fold(raw.to_string(), |value, filter| filter.apply(&value));
                    // `{unique}` is empty for the first account with a name, by design.
                    if value.is_empty() && name != super::UNIQUE {
                        return Err(MissingField(name.clone()));
                    }
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, fields: &[(&str, &str)]) -> Result<String, MissingField> {
        Template::parse(template)
            .unwrap()
            .render(|name| fields.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
    }

    #[test]
    fn renders_fields_literals_and_filters() {
        let fields = [("first_name", "Zoë"), ("last_name", "O'Brien-Ångström")];
        assert_eq!(
            render("{first_name} {last_name}", &fields).unwrap(),
            "Zoë O'Brien-Ångström"
        );
        assert_eq!(
            render(
                "{first_name|ascii|lower|alnum}.{last_name|ascii|lower|alnum}",
                &fields
            )
            .unwrap(),
            "zoe.obrien-angstrom"
        );
        assert_eq!(render("{first_name|initial}", &fields).unwrap(), "Z");
        assert_eq!(
            render("{last_name|ascii|lower|max:6}", &fields).unwrap(),
            "o'brie"
        );
        assert!(Template::parse("{a|max:0}").is_err());
        assert!(Template::parse("{a|max:x}").is_err());
        assert_eq!(
            render("{{literal}} {first_name|upper}", &fields).unwrap(),
            "{literal} ZOË"
        );
        assert_eq!(
            render("{email|localpart}", &[("email", "ada@example.org")]).unwrap(),
            "ada"
        );
    }

    #[test]
    fn missing_or_filtered_away_field_is_reported_not_half_rendered() {
        assert_eq!(
            render("{first_name} {last_name}", &[("first_name", "Ada")]),
            Err(MissingField("last_name".into()))
        );
        assert_eq!(
            render("{last_name|alnum}", &[("last_name", "李")]),
            Err(MissingField("last_name".into()))
        );
    }

    #[test]
    fn parse_errors_name_the_problem() {
        assert!(matches!(
            Template::parse("{first_name"),
            Err(TemplateError::Unclosed(_))
        ));
        assert!(matches!(
            Template::parse("a}b"),
            Err(TemplateError::Unmatched(_))
        ));
        assert!(matches!(
            Template::parse("{ }"),
            Err(TemplateError::EmptyField(_))
        ));
        let err = Template::parse("{first_name|shout}").unwrap_err();
        assert!(err.to_string().contains("unknown filter 'shout'"), "{err}");
        assert!(err.to_string().contains("lower"), "{err}");
    }

    /// Issue 16.10c: a title pasted raw into a DN-valued attribute could add RDNs of its own.
    #[test]
    fn the_dn_filter_escapes_a_value_for_a_dn() {
        let dn = |title: &str| {
            render(
                "cn={title|dn},ou=roles,dc=example,dc=org",
                &[("title", title)],
            )
            .unwrap()
        };
        assert_eq!(
            dn("x,ou=admins"),
            "cn=x\\,ou=admins,ou=roles,dc=example,dc=org"
        );
        assert_eq!(dn("Sales Rep"), "cn=Sales Rep,ou=roles,dc=example,dc=org");
        for hostile in [
            "x,ou=admins",
            "a+b",
            "#1",
            " lead",
            "trail ",
            "q\"<>;\\",
            "é=ü",
        ] {
            let rendered = crate::dn::Dn::parse(&dn(hostile)).unwrap();
            assert_eq!(rendered.rdn_avas()[0].value, hostile, "{hostile:?}");
            assert_eq!(
                rendered.parent().unwrap().as_str(),
                "ou=roles,dc=example,dc=org",
                "{hostile:?}"
            );
        }
        assert_eq!(
            render("{title|trim|lower|dn}", &[("title", " A,B ")]).unwrap(),
            "a\\,b"
        );
    }

    #[test]
    fn the_dn_filter_comes_last() {
        let err = Template::parse("cn={title|dn|max:5},ou=x").unwrap_err();
        assert_eq!(
            err,
            TemplateError::DnNotLast {
                template: "cn={title|dn|max:5},ou=x".into(),
                field: "title".into()
            }
        );
        assert!(
            err.to_string()
                .contains("'dn' must be the last filter of {title}"),
            "{err}"
        );
        let t = Template::parse("cn={title|dn},ou={department},o={manager_dn}").unwrap();
        assert_eq!(
            t.fields_not_dn_escaped().collect::<Vec<_>>(),
            ["department", "manager_dn"]
        );
    }

    #[test]
    fn lists_the_fields_it_reads() {
        let t = Template::parse("{a} and {b|lower}").unwrap();
        assert_eq!(t.fields().collect::<Vec<_>>(), ["a", "b"]);
    }
}
