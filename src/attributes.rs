//! Compact maps by name, for what a snapshot holds per person: an account's attribute values
//! ([`Attributes`]) and an employee's HR fields ([`Fields`]).
//!
//! A company-scale snapshot holds one such map per person, each with the same handful of names
//! and, mostly, one value per name. As a `BTreeMap<String, Vec<String>>` that is a B-tree node, a
//! name string, a vector and a value string per attribute: about a kilobyte per account. Here it
//! is one sorted vector whose names are shared between maps and whose single values are stored
//! inline, about 40% of that.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A name shared between the maps that use it, so that each does not carry its own copy: an
/// attribute name, lower-cased (see [`Names`]), or an HR field name as configured.
pub type Name = Arc<str>;

/// Values by name, sorted by name: the storage of [`Attributes`] and [`Fields`]. One vector
/// instead of a B-tree node, and names shared between maps instead of copied. Names compare
/// exactly here; [`Attributes`] lower-cases its names and looks them up case-insensitively.
#[derive(Clone, PartialEq, Eq)]
pub struct NameMap<V>(Vec<(Name, V)>);

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> NameMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `names` names: a snapshot knows how many it will insert, and a vector grown
    /// one insert at a time would hold up to twice the room it needs, per person.
    pub fn with_capacity(names: usize) -> Self {
        Self(Vec::with_capacity(names))
    }

    pub fn get(&self, name: &str) -> Option<&V> {
        self.find(|n| n.cmp(name)).ok().map(|at| &self.0[at].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.find(|n| n.cmp(name)).ok().map(|at| &mut self.0[at].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(|n| n.cmp(name)).is_ok()
    }

    /// Sets `name` to `value`, replacing what it had.
    pub fn insert(&mut self, name: String, value: V) {
        self.insert_named(Name::from(name), value);
    }

    /// [`NameMap::insert`] with a shared name (see [`Names`]).
    pub fn insert_named(&mut self, name: Name, value: V) {
        // Names usually come in order (the configuration's fields, or the server's attributes
        // as requested): then this is a push.
        if self.0.last().is_none_or(|(last, _)| **last < *name) {
            self.0.push((name, value));
            return;
        }
        match self.find(|n| n.cmp(&name)) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<V> {
        let at = self.find(|n| n.cmp(name)).ok()?;
        Some(self.0.remove(at).1)
    }

    /// Names and values, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(name, value)| (&**name, value))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| &**name)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, value)| value)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Where the name is (or would go) that `compare` (stored name vs the one looked for)
    /// finds.
    fn find(&self, compare: impl Fn(&str) -> Ordering) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| compare(n))
    }
}

/// `stored` (lower-case) against `name` in any case, without a lower-cased copy of `name`.
fn cmp_folded(stored: &str, name: &str) -> Ordering {
    stored
        .bytes()
        .cmp(name.bytes().map(|b| b.to_ascii_lowercase()))
}

impl<V> FromIterator<(String, V)> for NameMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (name, value) in iter {
            map.insert(name, value);
        }
        map
    }
}

impl<V: fmt::Debug> fmt::Debug for NameMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// HR fields by canonical name (`first_name`, `title`, ...): [`crate::model::Employee::fields`].
pub type Fields = NameMap<String>;

impl From<BTreeMap<String, String>> for Fields {
    fn from(map: BTreeMap<String, String>) -> Self {
        map.into_iter().collect()
    }
}

impl Fields {
    /// As an ordinary map.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect()
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(Self::from)
    }
}

/// Attribute values by lower-cased attribute name: [`crate::model::DirectoryAccount::attributes`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attributes(NameMap<Values>);

/// One value inline (the usual case), or several.
#[derive(Clone, PartialEq, Eq)]
struct Values(ValuesInner);

#[derive(Clone, PartialEq, Eq)]
enum ValuesInner {
    One(String),
    /// Never exactly one value: [`Values::new`] keeps the representation unique, so that the
    /// derived equality is equality of the values.
    Many(Vec<String>),
}

impl Values {
    fn new(mut values: Vec<String>) -> Self {
        Self(match values.len() {
            1 => ValuesInner::One(values.pop().unwrap_or_default()),
            _ => ValuesInner::Many(values),
        })
    }

    fn as_slice(&self) -> &[String] {
        match &self.0 {
            ValuesInner::One(value) => std::slice::from_ref(value),
            ValuesInner::Many(values) => values,
        }
    }
}

impl Attributes {
    pub fn new() -> Self {
        Self::default()
    }

    /// An entry's attributes in the order the server sent them, names shared and lower-cased
    /// (see [`Names`]): sorted once, instead of inserted one by one. A name given twice keeps
    /// its last values, as [`Attributes::insert`] would.
    pub fn from_named(named: impl ExactSizeIterator<Item = (Name, Vec<String>)>) -> Self {
        let mut all: Vec<(Name, Values)> = named
            .map(|(name, values)| {
                debug_assert!(!name.bytes().any(|b| b.is_ascii_uppercase()), "{name}");
                (name, Values::new(values))
            })
            .collect();
        // Stable: of a repeated name, the last given stays last.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        Self(NameMap(all))
    }

    /// The values of `name` (compared case-insensitively), if the attribute is present.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        let at = self.0.find(|n| cmp_folded(n, name)).ok()?;
        Some(self.0.0[at].1.as_slice())
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.0.find(|n| cmp_folded(n, name)).is_ok()
    }

    /// Sets `name` (any case) to `values`, replacing what it had.
    pub fn insert(&mut self, mut name: String, values: Vec<String>) {
        name.make_ascii_lowercase();
        self.0.insert(name, Values::new(values));
    }

    pub fn remove(&mut self, name: &str) -> Option<Vec<String>> {
        let at = self.0.find(|n| cmp_folded(n, name)).ok()?;
        Some(self.0.0.remove(at).1.as_slice().to_vec())
    }

    /// Names and values, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0
            .iter()
            .map(|(name, values)| (name, values.as_slice()))
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

/// Hands out one shared [`Name`] per name, so that a snapshot's maps do not each carry their
/// own copy of `"employeenumber"`.
#[derive(Default)]
pub struct Names(Vec<Name>);

impl Names {
    /// The shared name for `name`, lower-cased (attribute names).
    pub fn lower(&mut self, name: &str) -> Name {
        if let Some(known) = self.0.iter().find(|n| cmp_folded(n, name).is_eq()) {
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
    fn from_named_sorts_and_keeps_the_last_of_a_repeated_name() {
        let mut names = Names::default();
        let given = [
            ("uid", &["ada"][..]),
            ("objectclass", &["top", "person"]),
            ("cn", &["Ada"]),
            ("uid", &["ada2"]),
            ("mail", &[]),
        ];
        let from_named = Attributes::from_named(
            given
                .iter()
                .map(|(name, list)| (names.lower(name), values(list))),
        );
        let mut inserted = Attributes::new();
        for (name, list) in given {
            inserted.insert(name.to_string(), values(list));
        }
        assert_eq!(from_named, inserted);
        assert_eq!(from_named.get("uid"), Some(&values(&["ada2"])[..]));
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
    fn fields_behave_like_a_map_and_serialize_as_one() {
        let map: BTreeMap<String, String> = [("title", "Engineer"), ("first_name", "Ada")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut fields = Fields::from(map.clone());
        assert_eq!(fields.to_map(), map);
        assert!(fields.keys().eq(map.keys().map(String::as_str)));
        assert!(fields.values().eq(map.values()));
        assert_eq!(fields.get("title").map(String::as_str), Some("Engineer"));
        // Field names are the configuration's own: they compare exactly.
        assert_eq!(fields.get("TITLE"), None);
        fields.insert("title".into(), "Manager".into());
        fields.insert("costCenter".into(), "42".into());
        assert_eq!(fields.len(), 3);
        assert_eq!(fields.remove("title").as_deref(), Some("Manager"));
        assert_eq!(fields.remove("costCenter").as_deref(), Some("42"));
        let json = serde_json::to_string(&fields).unwrap();
        assert_eq!(json, r#"{"first_name":"Ada"}"#);
        assert_eq!(serde_json::from_str::<Fields>(&json).unwrap(), fields);
    }

    #[test]
    fn names_are_shared() {
        let mut names = Names::default();
        let a = names.lower("employeeNumber");
        let b = names.lower("EMPLOYEENUMBER");
        assert_eq!(&*a, "employeenumber");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &names.lower("uid")));
    }
}
