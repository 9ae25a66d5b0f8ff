//! A compact map of attribute values, for the accounts of a directory snapshot.
//!
//! A company-scale snapshot holds one such map per account, each with the same handful of
//! attribute names and, mostly, one value per attribute. As a `BTreeMap<String, Vec<String>>`
//! that is a B-tree node, a name string, a vector and a value string per attribute: about a
//! kilobyte per account. Here it is one sorted vector whose names are shared between accounts
//! and whose single values are stored inline, about 40% of that.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An attribute name, lower-cased, shared between the maps that use it (see [`Names`]).
pub type Name = Arc<str>;

/// Attribute values by lower-cased attribute name, sorted by name.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attributes(Vec<(Name, Values)>);

/// One value inline (the usual case), or several.
#[derive(Clone, PartialEq, Eq)]
enum Values {
    One(String),
    /// Never exactly one value: [`Values::new`] keeps the representation unique, so that the
    /// derived equality is equality of the values.
    Many(Vec<String>),
}

impl Values {
    fn new(mut values: Vec<String>) -> Self {
        match values.len() {
            1 => Self::One(values.pop().unwrap_or_default()),
            _ => Self::Many(values),
        }
    }

    fn as_slice(&self) -> &[String] {
        match self {
            Self::One(value) => std::slice::from_ref(value),
            Self::Many(values) => values,
        }
    }
}

impl Attributes {
    pub fn new() -> Self {
        Self::default()
    }

    /// The values of `name` (compared case-insensitively), if the attribute is present.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.position(name).ok().map(|at| self.0[at].1.as_slice())
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name` to `values`, replacing what it had.
    pub fn insert(&mut self, mut name: String, values: Vec<String>) {
        name.make_ascii_lowercase();
        self.insert_named(Name::from(name), values);
    }

    /// [`Attributes::insert`] with a shared name, already lower-cased (see [`Names`]).
    pub fn insert_named(&mut self, name: Name, values: Vec<String>) {
        debug_assert!(!name.bytes().any(|b| b.is_ascii_uppercase()), "{name}");
        let values = Values::new(values);
        match self.position(&name) {
            Ok(at) => self.0[at].1 = values,
            Err(at) => self.0.insert(at, (name, values)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Vec<String>> {
        let at = self.position(name).ok()?;
        Some(self.0.remove(at).1.as_slice().to_vec())
    }

    /// Name and values, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0
            .iter()
            .map(|(name, values)| (&**name, values.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As an ordinary map, for views that edit it.
    pub fn to_map(&self) -> BTreeMap<String, Vec<String>> {
        self.iter()
            .map(|(name, values)| (name.to_string(), values.to_vec()))
            .collect()
    }

    /// Where `name` is (or would go), compared case-insensitively: the stored names are
    /// lower-case, so a lookup never has to allocate a lower-cased copy of the name.
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|(n, _)| n.bytes().cmp(name.bytes().map(|b| b.to_ascii_lowercase())))
    }
}

impl FromIterator<(String, Vec<String>)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (String, Vec<String>)>>(iter: I) -> Self {
        let mut attributes = Self::new();
        for (name, values) in iter {
            attributes.insert(name, values);
        }
        attributes
    }
}

impl From<BTreeMap<String, Vec<String>>> for Attributes {
    fn from(map: BTreeMap<String, Vec<String>>) -> Self {
        map.into_iter().collect()
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, Vec<String>>::deserialize(deserializer).map(Self::from)
    }
}

/// Hands out one shared [`Name`] per attribute name, so that a snapshot's maps do not each
/// carry their own copy of `"employeenumber"`.
#[derive(Default)]
pub struct Names(Vec<Name>);

impl Names {
    /// The shared name for `name`, lower-cased.
    pub fn get(&mut self, name: &str) -> Name {
        if let Some(known) = self.0.iter().find(|n| n.eq_ignore_ascii_case(name)) {
            return known.clone();
        }
        let new = Name::from(name.to_ascii_lowercase());
        self.0.push(new.clone());
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(list: &[&str]) -> Vec<String> {
        list.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn behaves_like_the_map_it_replaces() {
        let mut map = BTreeMap::new();
        let mut attributes = Attributes::new();
        let edits: &[(&str, &[&str])] = &[
            ("title", &["Engineer"]),
            ("cn", &["Ada"]),
            ("objectclass", &["top", "person"]),
            ("mail", &[]),
            ("title", &["Manager"]),
            ("cn", &["Ada", "Ada L"]),
            ("objectclass", &["top"]),
        ];
        for (name, list) in edits {
            map.insert(name.to_string(), values(list));
            attributes.insert(name.to_string(), values(list));
            assert_eq!(attributes.to_map(), map);
            assert_eq!(Attributes::from(map.clone()), attributes);
        }
        assert_eq!(attributes.get("cn"), Some(&values(&["Ada", "Ada L"])[..]));
        assert_eq!(attributes.get("mail"), Some(&[][..]));
        assert_eq!(attributes.get("sn"), None);
        assert_eq!(attributes.get("CN"), attributes.get("cn"));
        attributes.insert("ObjectClass".into(), values(&["top"]));
        assert_eq!(attributes.len(), 4);
        assert_eq!(attributes.remove("title"), Some(values(&["Manager"])));
        assert!(!attributes.contains_key("title"));
        assert_eq!(attributes.len(), 3);
        let names: Vec<&str> = attributes.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["cn", "mail", "objectclass"]);
    }

    #[test]
    fn one_value_and_a_list_of_one_are_the_same_thing() {
        let mut a = Attributes::new();
        a.insert("cn".into(), values(&["x", "y"]));
        a.insert("cn".into(), values(&["x"]));
        let b: Attributes = [("cn".to_string(), values(&["x"]))].into_iter().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn serializes_as_a_map_and_back() {
        let a: Attributes = [
            ("uid".to_string(), values(&["ada"])),
            ("objectclass".to_string(), values(&["top", "person"])),
        ]
        .into_iter()
        .collect();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"objectclass":["top","person"],"uid":["ada"]}"#);
        assert_eq!(serde_json::from_str::<Attributes>(&json).unwrap(), a);
    }

    #[test]
    fn names_are_shared_and_lower_cased() {
        let mut names = Names::default();
        let a = names.get("employeeNumber");
        let b = names.get("EMPLOYEENUMBER");
        assert_eq!(&*a, "employeenumber");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &names.get("uid")));
    }
}
