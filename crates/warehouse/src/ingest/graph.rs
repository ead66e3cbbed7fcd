//! Reading Microsoft Graph responses saved in a snapshot folder: one response
//! (`{"value": [...]}`), a sequence of paged responses, or NDJSON (one entity per line).

use super::files::{self, SnapshotLimits};
use super::{IngestError, Progress};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::path::Path;
use std::path::PathBuf;

/// One entity of a Graph collection.
pub type Record = Map<String, Value>;

/// The records of one snapshot file. Graph responses are checked by streaming the file, and
/// read again a response (a page) at a time during the merge, so memory follows the largest
/// page, not the file; CSV rows are records already.
pub enum Content {
    /// A file of Graph responses or NDJSON, checked by [`read_records`].
    File(PathBuf, SnapshotLimits),
    /// Records read already.
    Parsed(Vec<Record>),
}

/// The shape of one item of a Graph file, checked without building it.
enum Item {
    /// A response holding this many entities.
    Response(usize),
    /// One entity.
    Entity,
}

/// Reads one item, checking the size of every entity of a response with the file's byte count.
struct ItemSeed<'c> {
    read: &'c Cell<u64>,
    max_record: u64,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Item;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph response or an entity (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut entities = None;
        while let Some(is_value) = map.next_key_seed(KeyIsValue)? {
            if is_value {
                entities = Some(map.next_value_seed(Entities {
                    read: self.read,
                    max_record: self.max_record,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(entities.map_or(Item::Entity, Item::Response))
    }
}

/// Whether a key is `value`, without allocating it.
struct KeyIsValue;

impl<'de> DeserializeSeed<'de> for KeyIsValue {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIsValue {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == "value")
    }
}

/// A response's `value`: an array of objects; counts them and bounds each one's size.
struct Entities<'c> {
    read: &'c Cell<u64>,
    max_record: u64,
}

impl<'de> DeserializeSeed<'de> for Entities<'_> {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entities<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'value' to be an array of entities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        loop {
            let before = self.read.get();
            if seq.next_element_seed(AnEntity)?.is_none() {
                return Ok(n);
            }
            if self.read.get() - before > self.max_record + files::record_slack() {
                return Err(de::Error::custom(format!(
                    "entity {n} of this response is larger than {} bytes, the limit for a record ([limits] snapshot_record_max_kb)",
                    self.max_record
                )));
            }
            n += 1;
        }
    }
}

/// One entity: any JSON object.
struct AnEntity;

impl<'de> DeserializeSeed<'de> for AnEntity {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AnEntity {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entity (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// The error of a file that is not Graph responses.
fn bad_json(file: &str, e: &serde_json::Error) -> IngestError {
    if e.is_io() {
        return IngestError::file(file, e.to_string());
    }
    let what = if e.is_data() {
        "unexpected JSON"
    } else {
        "malformed JSON"
    };
    IngestError::file(
        file,
        format!("{what} at line {} column {}: {e}", e.line(), e.column()),
    )
}

/// Checks a Graph response file by streaming it (errors name it `file`): a regular file within
/// the limits, every item a response or an entity, no record over the size limit, not empty.
/// Returns it as [`Content`] and how many records it holds.
pub fn read_records(
    path: &Path,
    file: &str,
    limits: &SnapshotLimits,
    progress: &dyn Progress,
) -> Result<(Content, usize), IngestError> {
    let (reader, read, len) = files::open(path, file, limits)?;
    progress.source_started(file, len);
    let mut count = 0;
    let mut items = 0;
    let mut de = serde_json::Deserializer::from_reader(reader);
    loop {
        // one item after another, as a stream deserializer would, with the size check's seed
        match de.end() {
            Ok(()) => break,
            Err(e) if e.is_eof() || e.is_syntax() => {}
            Err(e) => return Err(bad_json(file, &e)),
        }
        let seed = ItemSeed {
            read: &read,
            max_record: limits.max_record_bytes,
        };
        let before = read.get();
        count += match seed.deserialize(&mut de).map_err(|e| bad_json(file, &e))? {
            Item::Response(n) => n,
            Item::Entity => {
                if read.get() - before > limits.max_record_bytes + files::record_slack() {
                    return Err(IngestError::record(
                        file,
                        count,
                        None,
                        format!(
                            "is larger than {} bytes, the limit for a record ([limits] snapshot_record_max_kb)",
                            limits.max_record_bytes
                        ),
                    ));
                }
                1
            }
        };
        items += 1;
        progress.source_progress(file, read.get(), count as u64);
    }
    if items == 0 {
        return Err(IngestError::file(
            file,
            "holds no Graph response (an empty or truncated download?); a day without entities is {\"value\":[]}",
        ));
    }
    progress.source_finished(file, count as u64);
    Ok((Content::File(path.to_path_buf(), limits.clone()), count))
}

impl Content {
    /// Every record, in file order (errors name `file`).
    pub fn records<'a>(
        &'a self,
        file: &'a str,
    ) -> Box<dyn Iterator<Item = Result<Cow<'a, Record>, IngestError>> + 'a> {
        match self {
            Content::Parsed(records) => Box::new(records.iter().map(|r| Ok(Cow::Borrowed(r)))),
            Content::File(path, limits) => {
                let reader = match files::open(path, file, limits) {
                    Ok((reader, _, _)) => reader,
                    Err(e) => return Box::new(std::iter::once(Err(e))),
                };
                let items = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
                Box::new(items.flat_map(move |item| {
                    let entities: Vec<Result<Cow<'a, Record>, IngestError>> = match item {
                        Err(e) => vec![Err(bad_json(file, &e))],
                        Ok(Value::Object(mut o)) => match o.remove("value") {
                            Some(Value::Array(items)) => items
                                .into_iter()
                                .map(|v| match v {
                                    Value::Object(r) => Ok(Cow::Owned(r)),
                                    _ => Err(IngestError::file(
                                        file,
                                        "an entity is not a JSON object",
                                    )),
                                })
                                .collect(),
                            Some(_) => {
                                vec![Err(IngestError::file(file, "'value' is not an array"))]
                            }
                            None => vec![Ok(Cow::Owned(o))],
                        },
                        Ok(_) => vec![Err(IngestError::file(file, "an item is not a JSON object"))],
                    };
                    entities
                }))
            }
        }
    }
}

/// Converts every record of a source with `convert`, which reads it through [`Fields`].
pub fn each<T>(
    file: &str,
    content: &Content,
    mut convert: impl FnMut(&Fields<'_>) -> Result<T, IngestError>,
) -> Result<Vec<T>, IngestError> {
    content
        .records(file)
        .enumerate()
        .map(|(index, record)| {
            convert(&Fields {
                file,
                index,
                record: &*record?,
            })
        })
        .collect()
}

/// Typed access to a record's fields, with errors naming file, record and field.
pub struct Fields<'a> {
    /// The file the record comes from.
    pub file: &'a str,
    /// Its 0-based position in the file.
    pub index: usize,
    /// The record.
    pub record: &'a Record,
}

impl Fields<'_> {
    /// An error about `field` of this record.
    pub fn err(&self, field: &str, message: impl Into<String>) -> IngestError {
        IngestError::record(self.file, self.index, Some(field), message)
    }

    /// A required, non-empty string.
    pub fn id(&self, field: &str) -> Result<String, IngestError> {
        match self.record.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                Err(self.err(field, "is required"))
            }
            Some(other) => Err(self.err(field, format!("must be a string, not {other}"))),
        }
    }

    /// The required `id` of an entity no earlier record had (`what` names the entity in errors);
    /// `seen` holds the ids so far.
    pub fn unique_id(
        &self,
        seen: &mut foldhash::HashSet<String>,
        what: &str,
    ) -> Result<String, IngestError> {
        let id = self.id("id")?;
        if !seen.insert(id.clone()) {
            return Err(self.err("id", format!("duplicates {what} {id}")));
        }
        Ok(id)
    }

    /// An optional string.
    pub fn string(&self, field: &str) -> Result<Option<String>, IngestError> {
        match self.record.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.err(field, format!("must be a string, not {other}"))),
        }
    }

    /// An optional Boolean.
    pub fn boolean(&self, field: &str) -> Result<Option<bool>, IngestError> {
        match self.record.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.err(field, format!("must be true or false, not {other}"))),
        }
    }

    /// An optional integer (Graph writes Int64 as numbers, or as strings in IEEE754 mode).
    pub fn integer(&self, field: &str) -> Result<Option<i64>, IngestError> {
        match self.record.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err(field, format!("must be an integer, not {n}"))),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.err(field, format!("must be an integer, not \"{s}\""))),
            Some(other) => Err(self.err(field, format!("must be an integer, not {other}"))),
        }
    }

    /// An optional ISO 8601 date-time, as microseconds since the Unix epoch.
    pub fn timestamp(&self, field: &str) -> Result<Option<i64>, IngestError> {
        let Some(text) = self.string(field)? else {
            return Ok(None);
        };
        let t = time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                self.err(
                    field,
                    format!("must be an ISO 8601 date-time, not \"{text}\""),
                )
            })?;
        // Graph writes 0001-01-01T00:00:00Z for "never"
        if t.year() <= 1 {
            return Ok(None);
        }
        Ok(Some((t.unix_timestamp_nanos() / 1000) as i64))
    }

    /// The record's `@odata.type` without the `#microsoft.graph.` namespace.
    pub fn odata_type(&self) -> Result<Option<String>, IngestError> {
        Ok(self.string("@odata.type")?.map(|t| {
            t.trim_start_matches('#')
                .trim_start_matches("microsoft.graph.")
                .to_string()
        }))
    }

    /// The strings of an optional array field.
    pub fn strings(&self, field: &str) -> Result<Vec<String>, IngestError> {
        match self.record.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.err(field, format!("must hold strings, not {other}"))),
                })
                .collect(),
            Some(other) => Err(self.err(field, format!("must be an array, not {other}"))),
        }
    }

    /// An optional object field, read through its own [`Fields`].
    pub fn object(&self, field: &str) -> Result<Option<Fields<'_>>, IngestError> {
        match self.record.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(Fields {
                file: self.file,
                index: self.index,
                record: o,
            })),
            Some(other) => Err(self.err(field, format!("must be an object, not {other}"))),
        }
    }

    /// Whether an array field has at least one element.
    pub fn non_empty_array(&self, field: &str) -> Result<bool, IngestError> {
        match self.record.get(field) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Array(a)) => Ok(!a.is_empty()),
            Some(other) => Err(self.err(field, format!("must be an array, not {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::NoProgress;
    use super::*;

    /// Reads `text` as file `name`: its record count and the ids of its records.
    fn read(dir: &Path, name: &str, text: &str) -> Result<(usize, Vec<String>), String> {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let (content, n) = read_records(&path, name, &SnapshotLimits::default(), &NoProgress)
            .map_err(|e| e.to_string())?;
        let ids = each(name, &content, |f| f.id("id")).map_err(|e| e.to_string())?;
        Ok((n, ids))
    }

    #[test]
    fn responses_pages_and_ndjson() {
        let dir = std::env::temp_dir().join(format!("dw-graph-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            read(
                &dir,
                "one.json",
                r#"{"@odata.context":"x","value":[{"id":"a"},{"id":"b"}]}"#
            ),
            Ok((2, ids(&["a", "b"])))
        );
        assert_eq!(
            read(
                &dir,
                "pages.json",
                "{\"value\":[{\"id\":\"a\"}],\"@odata.nextLink\":\"x\"}\n{\"value\":[{\"id\":\"b\"},{\"id\":\"c\"}]}"
            ),
            Ok((3, ids(&["a", "b", "c"])))
        );
        assert_eq!(
            read(&dir, "nd.ndjson", "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"),
            Ok((2, ids(&["a", "b"])))
        );
        let e = read(&dir, "bad.json", "{\"value\":[{\"id\":\"a\"},").unwrap_err();
        assert!(e.starts_with("bad.json: malformed JSON at line 1"), "{e}");
        let e = read(&dir, "v.json", "{\"value\":{\"id\":\"a\"}}").unwrap_err();
        assert!(
            e.starts_with("v.json: unexpected JSON at line 1")
                && e.contains("expected 'value' to be an array of entities"),
            "{e}"
        );
        let e = read(&dir, "n.json", "{\"value\":[{\"id\":\"a\"}, 5]}").unwrap_err();
        assert!(e.contains("expected an entity (a JSON object)"), "{e}");
        let e = read(&dir, "s.ndjson", "{\"id\":\"a\"}\n\"text\"\n").unwrap_err();
        assert!(
            e.starts_with("s.ndjson: unexpected JSON at line 2")
                && e.contains("expected a Graph response or an entity"),
            "{e}"
        );
    }
}
