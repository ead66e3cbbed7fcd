//! One entity of a snapshot as read from its file: a JSON object whose names and strings borrow
//! the file's bytes where they can, so reading a record allocates its list of fields and little
//! else (a `serde_json::Value` allocates every name and string, and a tree node per few fields;
//! at a large tenant's size that was most of an ingestion's parsing time).

use foldhash::{HashMap, HashMapExt};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON object: its fields in file order, each name once (the last value of a repeated name
/// wins, as with `serde_json`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record<'a> {
    fields: Vec<(Cow<'a, str>, Field<'a>)>,
}

/// A JSON value inside a [`Record`].
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string (borrowed from the file unless it had escapes).
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Field<'a>>),
    /// An object.
    Object(Record<'a>),
}

impl<'a> Record<'a> {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets field `name` (replacing an earlier value).
    pub fn insert(&mut self, name: impl Into<Cow<'a, str>>, value: Field<'a>) {
        let name = name.into();
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
    }

    /// Field `name`, looked up from position `from` on (then from the start): readers ask for
    /// fields roughly in file order, so passing where the previous lookup ended makes a lookup
    /// one comparison most of the time. Returns the field's position with it.
    pub fn find(&self, name: &str, from: usize) -> Option<(usize, &Field<'a>)> {
        let from = from.min(self.fields.len());
        let (earlier, later) = self.fields.split_at(from);
        later
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| from + i)
            .or_else(|| earlier.iter().position(|(n, _)| n == name))
            .map(|i| (i, &self.fields[i].1))
    }

    /// Field `name`.
    pub fn get(&self, name: &str) -> Option<&Field<'a>> {
        self.find(name, 0).map(|(_, f)| f)
    }

    /// Keeps the last value of every name that appears more than once.
    fn last_value_wins(&mut self) {
        let n = self.fields.len();
        let repeated = if n <= 32 {
            (1..n).any(|i| self.fields[..i].iter().any(|(k, _)| *k == self.fields[i].0))
        } else {
            let mut names: Vec<&str> = self.fields.iter().map(|(k, _)| k.as_ref()).collect();
            names.sort_unstable();
            names.windows(2).any(|w| w[0] == w[1])
        };
        if !repeated {
            return;
        }
        let mut kept: Vec<(Cow<'a, str>, Field<'a>)> = Vec::with_capacity(n);
        let mut at: HashMap<Cow<'a, str>, usize> = HashMap::with_capacity(n);
        for (name, value) in self.fields.drain(..) {
            match at.get(&name) {
                Some(&i) => kept[i].1 = value,
                None => {
                    at.insert(name.clone(), kept.len());
                    kept.push((name, value));
                }
            }
        }
        self.fields = kept;
    }
}

impl fmt::Display for Field<'_> {
    /// The value as JSON text (error messages quote what they found).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Null => f.write_str("null"),
            Field::Bool(b) => write!(f, "{b}"),
            Field::Number(n) => write!(f, "{n}"),
            Field::String(s) => write!(f, "{}", serde_json::Value::from(s.as_ref())),
            Field::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Field::Object(record) => {
                f.write_str("{")?;
                for (i, (name, value)) in record.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{value}", serde_json::Value::from(name.as_ref()))?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Builds a [`Field`], borrowing strings from the input where the deserializer allows.
struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Field<'de>, E> {
        Ok(Field::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Field<'de>, E> {
        Ok(Field::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Field<'de>, E> {
        Ok(Field::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Field<'de>, E> {
        Ok(Field::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Field<'de>, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Field::Null, Field::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Field<'de>, E> {
        Ok(Field::String(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Field<'de>, E> {
        Ok(Field::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Field::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field<'de>, A::Error> {
        RecordVisitor.visit_map(map).map(Field::Object)
    }
}

impl<'de> de::Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

/// Builds a [`Record`].
struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record<'de>, A::Error> {
        let mut record = Record {
            fields: Vec::with_capacity(map.size_hint().unwrap_or(16).min(256)),
        };
        while let Some(name) = map.next_key_seed(Name)? {
            let value = map.next_value()?;
            record.fields.push((name, value));
        }
        record.last_value_wins();
        Ok(record)
    }
}

impl<'de> de::Deserialize<'de> for Record<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

/// A field's name, borrowed where it can be.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_strings_and_keeps_the_last_of_a_repeated_name() {
        let text = r#"{"id":"a","n":1,"esc":"x\"y","list":[true,null,2.5],"o":{"k":"v"},"n":2}"#;
        let r: Record = serde_json::from_str(text).unwrap();
        assert!(matches!(
            r.get("id"),
            Some(Field::String(Cow::Borrowed("a")))
        ));
        assert!(matches!(r.get("esc"), Some(Field::String(Cow::Owned(s))) if s == "x\"y"));
        assert_eq!(r.get("n"), Some(&Field::Number(2.into())));
        assert_eq!(r.fields.len(), 5, "a repeated name is one field");
        assert_eq!(r.get("list").unwrap().to_string(), "[true,null,2.5]");
        assert_eq!(r.get("o").unwrap().to_string(), r#"{"k":"v"}"#);
        assert_eq!(r.get("esc").unwrap().to_string(), r#""x\"y""#);
        assert_eq!(r.get("missing"), None);
        // a lookup from a later position wraps around
        assert_eq!(r.find("id", 3).map(|(i, _)| i), Some(0));
        assert_eq!(r.find("o", 3).map(|(i, _)| i), Some(4));
    }

    #[test]
    fn many_repeated_names_stay_linear() {
        let mut text = String::from("{");
        for i in 0..20_000 {
            text.push_str(&format!("\"k{}\":{i},", i % 100));
        }
        text.push_str("\"end\":0}");
        let r: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(r.fields.len(), 101);
        assert_eq!(r.get("k7"), Some(&Field::Number(19_907.into())));
    }
}
