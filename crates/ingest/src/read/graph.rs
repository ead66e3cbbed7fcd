//! Reading Microsoft Graph responses saved in a snapshot folder: one response
//! (`{"value": [...]}`), a sequence of paged responses, or NDJSON (one entity per line).

use crate::read::files::{self, Opened, SnapshotLimits};
use crate::read::record::{Field, Record};
use crate::IngestError;
use crate::Progress;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_json::value::RawValue;
use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::path::PathBuf;

/// The records of one snapshot file. Graph responses are checked when the folder is read, and
/// read again an item (a response, or an NDJSON line) at a time during the merge, so memory
/// follows the largest item, not the file; CSV rows are records already.
pub enum Content {
    /// A file of Graph responses or NDJSON, checked by [`read_records`].
    File(PathBuf, SnapshotLimits),
    /// Records read already.
    Parsed(Vec<Record<'static>>),
}

/// Bytes read from a file at a time (an item larger than what is buffered doubles the buffer).
const CHUNK: usize = 4 << 20;

/// Hands every top-level JSON value of the opened file (`path`, named `file` in errors) to
/// `each` as its text and byte offset, in file order. The file is read a buffer at a time and
/// every value parsed from memory: serde_json parses a slice several times faster than a reader,
/// and the values' strings can borrow the buffer.
/// The UTF-8 byte-order mark.
const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

fn for_each_item(
    opened: Opened,
    path: &Path,
    file: &str,
    max_item: u64,
    mut each: impl FnMut(&str, u64) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let (mut reader, _, _) = opened;
    let mut buf: Vec<u8> = Vec::new();
    // the file offset of buf[0]
    let mut base = 0u64;
    // a UTF-8 byte-order mark (Windows tools write one) is not JSON: skipped, as CSV skips it
    (&mut reader)
        .take(UTF8_BOM.len() as u64)
        .read_to_end(&mut buf)
        .map_err(|e| IngestError::file(file, e.to_string()))?;
    if buf == UTF8_BOM {
        buf.clear();
        base = UTF8_BOM.len() as u64;
    }
    loop {
        // as much again as is buffered: an item larger than the buffer is read in linear time
        let want = CHUNK.max(buf.len()) as u64;
        let got = (&mut reader)
            .take(want)
            .read_to_end(&mut buf)
            .map_err(|e| IngestError::file(file, e.to_string()))?;
        let at_end = (got as u64) < want;
        let mut stream = serde_json::Deserializer::from_slice(&buf).into_iter::<&RawValue>();
        let mut done = 0;
        loop {
            match stream.next() {
                None => {
                    done = buf.len();
                    break;
                }
                Some(Ok(item)) => {
                    let text = item.get();
                    if text.len() as u64 > max_item {
                        return Err(item_too_large(file, max_item));
                    }
                    let start = text.as_ptr() as usize - buf.as_ptr() as usize;
                    each(text, base + start as u64)?;
                    done = stream.byte_offset();
                }
                // an item the buffer holds only the start of
                Some(Err(e)) if e.is_eof() && !at_end => break,
                Some(Err(e)) => return Err(bad_json(path, file, base, &e)),
            }
        }
        if at_end {
            return Ok(());
        }
        buf.drain(..done);
        base += done as u64;
        // what is left is the start of one item
        if buf.len() as u64 > max_item {
            return Err(item_too_large(file, max_item));
        }
    }
}

/// The error of an item over the limit of [`SnapshotLimits::max_item_bytes`].
fn item_too_large(file: &str, max_item: u64) -> IngestError {
    IngestError::file(
        file,
        format!(
            "holds a Graph response or NDJSON line larger than {max_item} bytes, the limit for one item ([limits] snapshot_item_max_mb); save large collections as pages or NDJSON"
        ),
    )
}

/// The shape of one item of a Graph file, checked without building it.
enum Item {
    /// A response holding this many entities.
    Response(usize),
    /// One entity.
    Entity,
}

/// Reads one item, checking that every entity of a response is an object within the size limit.
struct ItemSeed {
    max_record: u64,
}

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Item;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph response or an entity (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut entities = None;
        while let Some(is_value) = map.next_key_seed(KeyIsValue)? {
            if is_value {
                entities = Some(map.next_value_seed(Entities {
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
struct Entities {
    max_record: u64,
}

impl<'de> DeserializeSeed<'de> for Entities {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entities {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'value' to be an array of entities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while let Some(entity) = seq.next_element::<&RawValue>()? {
            let text = entity.get();
            if !text.starts_with('{') {
                let found = match text.as_bytes()[0] {
                    b'"' => Unexpected::Other("string"),
                    b'[' => Unexpected::Seq,
                    b't' | b'f' => Unexpected::Other("boolean"),
                    b'n' => Unexpected::Unit,
                    _ => Unexpected::Other("number"),
                };
                return Err(de::Error::invalid_type(found, &"an entity (a JSON object)"));
            }
            if text.len() as u64 > self.max_record {
                return Err(de::Error::custom(format!(
                    "entity {n} of this response is larger than {} bytes, the limit for a record ([limits] snapshot_record_max_kb)",
                    self.max_record
                )));
            }
            n += 1;
        }
        Ok(n)
    }
}

/// The error of a file that is not Graph responses: `e`, whose line and column count from byte
/// `origin` of the file (errors name the file's own line and column).
fn bad_json(path: &Path, file: &str, origin: u64, e: &serde_json::Error) -> IngestError {
    if e.is_io() {
        return IngestError::file(file, e.to_string());
    }
    let what = if e.is_data() {
        "unexpected JSON"
    } else {
        "malformed JSON"
    };
    let (line, column) = match position(path, origin) {
        Some((line, column)) if e.line() <= 1 => (line, column + e.column()),
        Some((line, _)) => (line + e.line() - 1, e.column()),
        None => (e.line(), e.column()),
    };
    let text = e.to_string();
    let message = text
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&text);
    IngestError::file(
        file,
        format!("{what} at line {line} column {column}: {message}"),
    )
}

/// The 1-based line of byte `offset` of the file at `path`, and how many bytes of that line come
/// before it (read again, a buffer at a time, only to report an error).
fn position(path: &Path, offset: u64) -> Option<(usize, usize)> {
    // opened as every snapshot file is (regular files only, without blocking)
    let (reader, _, _) = files::open(path, "", &SnapshotLimits::default()).ok()?;
    let mut reader = reader.take(offset);
    let mut chunk = vec![0; 64 * 1024];
    let (mut line, mut column) = (1, 0);
    loop {
        let n = reader.read(&mut chunk).ok()?;
        if n == 0 {
            return Some((line, column));
        }
        for b in &chunk[..n] {
            if *b == b'\n' {
                line += 1;
                column = 0;
            } else {
                column += 1;
            }
        }
    }
}

/// Checks a Graph response file (errors name it `file`): a regular file within the limits, every
/// item a response or an entity, no record over the size limit, not empty. Returns it as
/// [`Content`] and how many records it holds.
pub fn read_records(
    path: &Path,
    file: &str,
    limits: &SnapshotLimits,
    progress: &dyn Progress,
) -> Result<(Content, usize), IngestError> {
    let opened = files::open(path, file, limits)?;
    progress.source_started(file, opened.2);
    let mut count = 0;
    let mut items = 0;
    for_each_item(opened, path, file, limits.max_item_bytes, |text, offset| {
        let seed = ItemSeed {
            max_record: limits.max_record_bytes,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        count += match seed
            .deserialize(&mut de)
            .map_err(|e| bad_json(path, file, offset, &e))?
        {
            Item::Response(n) => n,
            Item::Entity => {
                if text.len() as u64 > limits.max_record_bytes {
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
        progress.source_progress(file, offset + text.len() as u64, count as u64);
        Ok(())
    })?;
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
    /// Calls `each` with every record and its 0-based position, in file order (errors name
    /// `file`).
    pub fn for_each(
        &self,
        file: &str,
        mut each: impl FnMut(usize, &Record<'_>) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let (path, limits) = match self {
            Content::Parsed(records) => {
                return records.iter().enumerate().try_for_each(|(i, r)| each(i, r))
            }
            Content::File(path, limits) => (path, limits),
        };
        let mut index = 0;
        for_each_item(
            files::open(path, file, limits)?,
            path,
            file,
            limits.max_item_bytes,
            |text, offset| {
                let record = match serde_json::from_str::<Field<'_>>(text) {
                    Ok(Field::Object(record)) => record,
                    Ok(_) => return Err(IngestError::file(file, "an item is not a JSON object")),
                    Err(e) => return Err(bad_json(path, file, offset, &e)),
                };
                match record.get("value") {
                    Some(Field::Array(entities)) => {
                        for entity in entities {
                            let Field::Object(entity) = entity else {
                                return Err(IngestError::file(
                                    file,
                                    "an entity is not a JSON object",
                                ));
                            };
                            each(index, entity)?;
                            index += 1;
                        }
                    }
                    Some(_) => return Err(IngestError::file(file, "'value' is not an array")),
                    None => {
                        each(index, &record)?;
                        index += 1;
                    }
                }
                Ok(())
            },
        )
    }
}

/// Converts every record of a source with `convert`, which reads it through [`Fields`].
pub fn each<T>(
    file: &str,
    content: &Content,
    mut convert: impl FnMut(&Fields<'_>) -> Result<T, IngestError>,
) -> Result<Vec<T>, IngestError> {
    let mut converted = Vec::new();
    content.for_each(file, |index, record| {
        converted.push(convert(&Fields::new(file, index, record))?);
        Ok(())
    })?;
    Ok(converted)
}

/// Typed access to a record's fields, with errors naming file, record and field.
pub struct Fields<'a> {
    /// The file the record comes from.
    pub file: &'a str,
    /// Its 0-based position in the file.
    pub index: usize,
    record: &'a Record<'a>,
    /// Where the next lookup starts: just after the field found last.
    next: Cell<usize>,
}

impl<'a> Fields<'a> {
    /// Reads `record`, record `index` of `file`.
    pub fn new(file: &'a str, index: usize, record: &'a Record<'a>) -> Self {
        Self {
            file,
            index,
            record,
            next: Cell::new(0),
        }
    }

    /// The value of `field`, if the record has it.
    pub fn value(&self, field: &str) -> Option<&'a Field<'a>> {
        let (at, value) = self.record.find(field, self.next.get())?;
        self.next.set(at + 1);
        Some(value)
    }

    /// An error about `field` of this record.
    pub fn err(&self, field: &str, message: impl Into<String>) -> IngestError {
        IngestError::record(self.file, self.index, Some(field), message)
    }

    /// A required, non-empty string.
    pub fn id(&self, field: &str) -> Result<String, IngestError> {
        match self.value(field) {
            Some(Field::String(s)) if !s.is_empty() => Ok(s.to_string()),
            Some(Field::String(_)) | None | Some(Field::Null) => {
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

    /// An optional string, borrowed.
    fn str(&self, field: &str) -> Result<Option<&'a str>, IngestError> {
        match self.value(field) {
            None | Some(Field::Null) => Ok(None),
            Some(Field::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(field, format!("must be a string, not {other}"))),
        }
    }

    /// An optional string.
    pub fn string(&self, field: &str) -> Result<Option<String>, IngestError> {
        Ok(self.str(field)?.map(str::to_string))
    }

    /// An optional Boolean.
    pub fn boolean(&self, field: &str) -> Result<Option<bool>, IngestError> {
        match self.value(field) {
            None | Some(Field::Null) => Ok(None),
            Some(Field::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.err(field, format!("must be true or false, not {other}"))),
        }
    }

    /// An optional integer (Graph writes Int64 as numbers, or as strings in IEEE754 mode).
    pub fn integer(&self, field: &str) -> Result<Option<i64>, IngestError> {
        match self.value(field) {
            None | Some(Field::Null) => Ok(None),
            Some(Field::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err(field, format!("must be an integer, not {n}"))),
            Some(Field::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.err(field, format!("must be an integer, not \"{s}\""))),
            Some(other) => Err(self.err(field, format!("must be an integer, not {other}"))),
        }
    }

    /// An optional ISO 8601 date-time, as microseconds since the Unix epoch.
    pub fn timestamp(&self, field: &str) -> Result<Option<i64>, IngestError> {
        let Some(text) = self.str(field)? else {
            return Ok(None);
        };
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
            self.err(
                field,
                format!("must be an ISO 8601 date-time, not \"{text}\""),
            )
        })?;
        // Graph writes 0001-01-01T00:00:00Z for "never"
        const NEVER: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
        const LAST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let seconds = t.unix_timestamp();
        if seconds == NEVER && t.nanosecond() == 0 {
            return Ok(None);
        }
        // what the stores hold and OData writes: a year of four digits, in UTC (an offset can
        // carry a date-time past either end)
        if !(NEVER..=LAST).contains(&seconds) {
            return Err(self.err(
                field,
                format!(
                    "\"{text}\" is outside the date-times the warehouse keeps \
                     (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"
                ),
            ));
        }
        Ok(Some((t.unix_timestamp_nanos() / 1000) as i64))
    }

    /// The record's `@odata.type` without the `#microsoft.graph.` namespace.
    pub fn odata_type(&self) -> Result<Option<String>, IngestError> {
        Ok(self.str("@odata.type")?.map(|t| {
            t.trim_start_matches('#')
                .trim_start_matches("microsoft.graph.")
                .to_string()
        }))
    }

    /// The strings of an optional array field.
    pub fn strings(&self, field: &str) -> Result<Vec<String>, IngestError> {
        match self.value(field) {
            None | Some(Field::Null) => Ok(Vec::new()),
            Some(Field::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Field::String(s) => Ok(s.to_string()),
                    other => Err(self.err(field, format!("must hold strings, not {other}"))),
                })
                .collect(),
            Some(other) => Err(self.err(field, format!("must be an array, not {other}"))),
        }
    }

    /// An optional object field, read through its own [`Fields`].
    pub fn object(&self, field: &str) -> Result<Option<Fields<'a>>, IngestError> {
        match self.value(field) {
            None | Some(Field::Null) => Ok(None),
            Some(Field::Object(o)) => Ok(Some(Fields::new(self.file, self.index, o))),
            Some(other) => Err(self.err(field, format!("must be an object, not {other}"))),
        }
    }

    /// Whether an array field has at least one element.
    pub fn non_empty_array(&self, field: &str) -> Result<bool, IngestError> {
        match self.value(field) {
            None | Some(Field::Null) => Ok(false),
            Some(Field::Array(a)) => Ok(!a.is_empty()),
            Some(other) => Err(self.err(field, format!("must be an array, not {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoProgress;

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
        let dir = testkit::TempDir::new("graph_read");
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

    #[test]
    fn a_byte_order_mark_is_skipped_and_date_times_stay_in_range() {
        let dir = testkit::TempDir::new("graph_bom");
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let with_bom = "\u{feff}{\"value\":[{\"id\":\"a\"}]}";
        assert_eq!(read(&dir, "bom.json", with_bom), Ok((1, ids(&["a"]))));
        assert_eq!(
            read(&dir, "bom.ndjson", "\u{feff}{\"id\":\"a\"}\n"),
            Ok((1, ids(&["a"])))
        );
        let stamps = |value: &str| {
            let path = dir.join("t.ndjson");
            std::fs::write(&path, format!("{{\"id\":\"a\",\"at\":\"{value}\"}}\n")).unwrap();
            let (content, _) =
                read_records(&path, "t.ndjson", &SnapshotLimits::default(), &NoProgress).unwrap();
            each("t.ndjson", &content, |f| f.timestamp("at"))
                .map(|v| v[0])
                .map_err(|e| e.to_string())
        };
        assert_eq!(stamps("0001-01-01T00:00:00Z"), Ok(None));
        assert_eq!(
            stamps("2026-12-07T10:00:00+01:00"),
            Ok(Some(1_796_634_000_000_000))
        );
        assert!(stamps("9999-12-31T23:59:59Z").unwrap().is_some());
        // past either end once in UTC: was stored as 9999-01-01T13:59:59Z and as null
        for outside in ["9999-12-31T23:59:59-14:00", "0000-01-01T00:00:00+14:00"] {
            let e = stamps(outside).unwrap_err();
            assert!(e.contains("field 'at'") || e.contains("at"), "{e}");
            assert!(
                e.contains("outside the date-times the warehouse keeps"),
                "{e}"
            );
        }
    }

    #[test]
    fn items_across_buffer_boundaries() {
        let dir = testkit::TempDir::new("graph_chunks");
        // NDJSON of about three buffers: items straddle every boundary
        let lines = 3 * CHUNK / 60;
        let ndjson: String = (0..lines)
            .map(|i| {
                format!(
                    "{{\"id\":\"device-{i:08}\",\"pad\":\"{}\"}}\n",
                    "x".repeat(i % 40)
                )
            })
            .collect();
        let (n, ids) = read(&dir, "many.ndjson", &ndjson).unwrap();
        assert_eq!((n, ids.len()), (lines, lines));
        assert_eq!(ids[lines - 1], format!("device-{:08}", lines - 1));
        // an error far into the file names its own line and column
        let broken = format!("{ndjson}{{\"id\":\"last\",}}\n");
        let e = read(&dir, "broken.ndjson", &broken).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "broken.ndjson: malformed JSON at line {} column 14: key must be a string",
                lines + 1
            )),
            "{e}"
        );
        // one response larger than the buffer
        let entities: Vec<String> = (0..CHUNK / 20)
            .map(|i| format!("{{\"id\":\"e{i}\",\"pad\":\"{}\"}}", "y".repeat(20)))
            .collect();
        let response = format!("{{\"value\":[{}]}}", entities.join(","));
        assert!(response.len() > 2 * CHUNK);
        let (n, ids) = read(&dir, "one.json", &response).unwrap();
        assert_eq!((n, ids.len()), (CHUNK / 20, CHUNK / 20));
        // an item over the limit stops the run before it is read whole
        let path = dir.join("big.json");
        std::fs::write(&path, &response).unwrap();
        let limits = SnapshotLimits {
            max_item_bytes: (CHUNK / 2) as u64,
            ..SnapshotLimits::default()
        };
        let e = read_records(&path, "big.json", &limits, &NoProgress)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("big.json: holds a Graph response or NDJSON line larger than")
                && e.contains("snapshot_item_max_mb"),
            "{e}"
        );
        // a truncated file is malformed, not a shorter snapshot
        let e = read(&dir, "cut.json", &response[..response.len() - 3]).unwrap_err();
        assert!(e.starts_with("cut.json: malformed JSON at line 1"), "{e}");
    }
}
