//! Reading Microsoft Graph responses saved in a snapshot folder: one response
//! (`{"value": [...]}`), a sequence of paged responses, or NDJSON (one entity per line).

use super::{IngestError, Progress};
use serde_json::{Map, Value};
use std::path::Path;

/// One entity of a Graph collection.
pub type Record = Map<String, Value>;

/// Reads every record of a Graph response file; errors name it `file`.
pub fn read_records(
    path: &Path,
    file: &str,
    progress: &dyn Progress,
) -> Result<Vec<Record>, IngestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| IngestError::file(file, format!("cannot read: {e}")))?;
    progress.source_started(file, text.len() as u64);
    let mut records = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let mut i = 0;
    while let Some(value) = stream.next() {
        progress.source_progress(file, stream.byte_offset() as u64, records.len() as u64);
        i += 1;
        let value = value.map_err(|e| {
            IngestError::file(
                file,
                format!(
                    "malformed JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        match value {
            Value::Object(mut o) => match o.remove("value") {
                Some(Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::Object(r) => records.push(r),
                            _ => {
                                return Err(IngestError::record(
                                    file,
                                    records.len(),
                                    None,
                                    "an entity must be a JSON object",
                                ))
                            }
                        }
                    }
                }
                Some(_) => {
                    return Err(IngestError::file(
                        file,
                        format!("response {i} has a 'value' that is not an array"),
                    ))
                }
                None => records.push(o),
            },
            _ => {
                return Err(IngestError::file(
                    file,
                    format!("item {i} is neither a Graph response nor an entity"),
                ))
            }
        }
    }
    progress.source_finished(file, records.len() as u64);
    Ok(records)
}

/// Converts every record of a source with `convert`, which reads it through [`Fields`].
pub fn each<T>(
    file: &str,
    records: &[Record],
    mut convert: impl FnMut(&Fields<'_>) -> Result<T, IngestError>,
) -> Result<Vec<T>, IngestError> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            convert(&Fields {
                file,
                index,
                record,
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
        seen: &mut std::collections::HashSet<String>,
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

    #[test]
    fn responses_pages_and_ndjson() {
        let dir = std::env::temp_dir().join(format!("dw-graph-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = dir.join("one.json");
        std::fs::write(
            &one,
            r#"{"@odata.context":"x","value":[{"id":"a"},{"id":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(
            read_records(&one, "one.json", &NoProgress).unwrap().len(),
            2
        );
        let pages = dir.join("pages.json");
        std::fs::write(&pages, "{\"value\":[{\"id\":\"a\"}],\"@odata.nextLink\":\"x\"}\n{\"value\":[{\"id\":\"b\"},{\"id\":\"c\"}]}").unwrap();
        assert_eq!(
            read_records(&pages, "pages.json", &NoProgress)
                .unwrap()
                .len(),
            3
        );
        let nd = dir.join("nd.ndjson");
        std::fs::write(&nd, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n").unwrap();
        assert_eq!(
            read_records(&nd, "nd.ndjson", &NoProgress).unwrap().len(),
            2
        );
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{\"value\":[{\"id\":\"a\"},").unwrap();
        let e = read_records(&bad, "bad.json", &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.json: malformed JSON"), "{e}");
    }
}
