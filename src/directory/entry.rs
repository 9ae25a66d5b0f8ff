//! Search result entries, decoded straight from the BER structure ldap3 hands over.
//!
//! ldap3's `SearchEntry::construct` copies every value into a new string, builds two hash maps
//! per entry and panics on a malformed entry. A directory read at company scale decodes hundreds
//! of thousands of entries, so hrsync takes the strings out of the decoded structure as they are
//! (no copy) and reports a malformed entry as an error naming what is wrong.

use ldap3::ResultEntry;
use ldap3::asn1::{PL, StructureTag};

use super::DirectoryError;

/// One entry: its DN and its attributes in the order the server sent them, with the attribute
/// names as the server spelled them. Values that are not UTF-8 (binary attributes) are left out;
/// hrsync manages none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) dn: String,
    pub(crate) attrs: Vec<(String, Vec<String>)>,
}

/// `SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName LDAPDN, attributes
/// PartialAttributeList }` (RFC 4511 4.5.2).
const SEARCH_RESULT_ENTRY: u64 = 4;

impl Entry {
    pub(crate) fn decode(entry: ResultEntry) -> Result<Self, &'static str> {
        if entry.0.id != SEARCH_RESULT_ENTRY {
            return Err("not a search result entry");
        }
        let mut parts = constructed(entry.0, "the entry is not a sequence")?.into_iter();
        let dn = text(
            parts.next().ok_or("the entry has no DN")?,
            "the DN is not UTF-8",
        )?;
        let mut attrs = Vec::new();
        for attribute in constructed(
            parts.next().ok_or("the entry has no attribute list")?,
            "the attribute list is not a sequence",
        )? {
            let mut attribute =
                constructed(attribute, "an attribute is not a sequence")?.into_iter();
            let name = text(
                attribute.next().ok_or("an attribute has no type")?,
                "an attribute type is not UTF-8",
            )?;
            let values = constructed(
                attribute.next().ok_or("an attribute has no value set")?,
                "an attribute's value set is not a set",
            )?;
            let values = values
                .into_iter()
                .filter_map(|value| match value.payload {
                    PL::P(bytes) => String::from_utf8(bytes).ok(),
                    PL::C(_) => None,
                })
                .collect();
            attrs.push((name, values));
        }
        Ok(Self { dn, attrs })
    }

    /// [`Entry::decode`], a malformed entry being a [`DirectoryError`] of `operation` on `dn`.
    pub(crate) fn decode_for(
        entry: ResultEntry,
        operation: &'static str,
        dn: &str,
    ) -> Result<Self, DirectoryError> {
        Self::decode(entry).map_err(|problem| DirectoryError::Transport {
            operation,
            dn: dn.to_string(),
            message: format!("the server sent a malformed entry: {problem}"),
        })
    }

    /// The values of `name` (compared case-insensitively, without options like `;range=`).
    pub(crate) fn values<'e>(&'e self, name: &'e str) -> impl Iterator<Item = &'e String> + 'e {
        self.attrs
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, values)| values)
    }
}

fn constructed(
    tag: StructureTag,
    not_constructed: &'static str,
) -> Result<Vec<StructureTag>, &'static str> {
    match tag.payload {
        PL::C(inner) => Ok(inner),
        PL::P(_) => Err(not_constructed),
    }
}

fn text(tag: StructureTag, not_utf8: &'static str) -> Result<String, &'static str> {
    match tag.payload {
        PL::P(bytes) => String::from_utf8(bytes).map_err(|_| not_utf8),
        PL::C(_) => Err("a string is a constructed value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::{ASNTag, OctetString, Sequence, Set, Tag, TagClass};

    fn octets(value: &[u8]) -> Tag {
        Tag::OctetString(OctetString {
            inner: value.to_vec(),
            ..Default::default()
        })
    }

    fn entry(dn: &[u8], attrs: &[(&str, &[&[u8]])]) -> ResultEntry {
        let attributes = attrs
            .iter()
            .map(|(name, values)| {
                Tag::Sequence(Sequence {
                    inner: vec![
                        octets(name.as_bytes()),
                        Tag::Set(Set {
                            inner: values.iter().map(|v| octets(v)).collect(),
                            ..Default::default()
                        }),
                    ],
                    ..Default::default()
                })
            })
            .collect();
        let tag = Tag::Sequence(Sequence {
            id: SEARCH_RESULT_ENTRY,
            class: TagClass::Application,
            inner: vec![
                octets(dn),
                Tag::Sequence(Sequence {
                    inner: attributes,
                    ..Default::default()
                }),
            ],
        })
        .into_structure();
        ResultEntry::new(tag)
    }

    #[test]
    fn decodes_like_ldap3_and_keeps_the_order_and_spelling() {
        let raw = || {
            entry(
                b"uid=j,ou=People,dc=x",
                &[
                    ("uid", &[b"j"]),
                    ("objectClass", &[b"top", b"person"]),
                    ("jpegPhoto", &[b"\xff\xd8\xff"]),
                    ("CN", &[]),
                ],
            )
        };
        let decoded = Entry::decode(raw()).unwrap();
        assert_eq!(decoded.dn, "uid=j,ou=People,dc=x");
        let names: Vec<&str> = decoded.attrs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["uid", "objectClass", "jpegPhoto", "CN"]);
        assert_eq!(
            decoded.values("OBJECTCLASS").collect::<Vec<_>>(),
            ["top", "person"]
        );
        // A binary value is left out, as ldap3's own decoding puts it aside.
        assert_eq!(decoded.values("jpegphoto").count(), 0);

        let theirs = ldap3::SearchEntry::construct(raw());
        assert_eq!(theirs.dn, decoded.dn);
        for (name, values) in &decoded.attrs {
            if !values.is_empty() {
                assert_eq!(&theirs.attrs[name], values, "{name}");
            }
        }
    }

    #[test]
    fn a_malformed_entry_is_an_error_not_a_panic() {
        let mut not_utf8 = entry(b"uid=\xff", &[]);
        assert_eq!(Entry::decode(not_utf8), Err("the DN is not UTF-8"));
        not_utf8 = entry(b"uid=j", &[]);
        not_utf8.0.id = 5;
        assert!(Entry::decode(not_utf8).is_err());
        let flat = ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id: SEARCH_RESULT_ENTRY,
            payload: PL::P(b"x".to_vec()),
        });
        assert_eq!(Entry::decode(flat), Err("the entry is not a sequence"));
        let no_attributes = ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id: SEARCH_RESULT_ENTRY,
            payload: PL::C(vec![octets(b"uid=j").into_structure()]),
        });
        assert_eq!(
            Entry::decode(no_attributes),
            Err("the entry has no attribute list")
        );
    }
}
