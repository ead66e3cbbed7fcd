//! Expanded collections: an entity's related entities, read from one row column that holds
//! them as JSON text, written with their count and a next link to the rest.

use super::{entity_id, write_integer, write_string, Cell, EntityWriter, Row};
use crate::edm::PrimitiveType;
use serde_json::Value;

/// An expanded collection of an entity (`devicePropertyHistories` of a device). Its entities
/// come from one row column holding a JSON array of rows, each an array of arrays of cells
/// (integers, with Booleans as 0/1 and date-times as microseconds since the Unix epoch, text,
/// null), the arrays of a row read one after the other.
pub struct ExpandedCollection {
    /// Row column of the entities (none: only counted, `name/$count`).
    pub rows: Option<usize>,
    /// Row column of their number, written as `name@odata.count`.
    pub count: Option<usize>,
    /// Most entities to write; when the column holds more, a next link follows.
    pub shown: usize,
    /// Where the others are.
    pub next_link: Option<RelatedLink>,
    /// The writer of one entity (columns of its JSON row).
    pub writer: EntityWriter,
}

/// The next link of an expanded collection: `{set_url}({key}){rest}`.
pub struct RelatedLink {
    /// The parent's entity-set URL.
    pub set_url: String,
    /// The parent's key: (row column, name, type) of each key property.
    pub key_columns: Vec<(usize, String, PrimitiveType)>,
    /// What follows the key: `/{navigation}?{options}`, complete.
    pub rest: String,
}

/// The member names an expanded collection writes, escaped once: `"name@odata.count":`,
/// `"name":`, `"name@odata.nextLink":`.
pub(super) struct Names {
    count: Vec<u8>,
    entities: Vec<u8>,
    next_link: Vec<u8>,
}

impl Names {
    /// The names for the navigation property `name`.
    pub(super) fn new(name: &str) -> Self {
        Names {
            count: super::quoted_name(&format!("{name}@odata.count")),
            entities: super::quoted_name(name),
            next_link: super::quoted_name(&format!("{name}@odata.nextLink")),
        }
    }
}

/// One entity's JSON row, its cells in column order.
struct JsonRow(Vec<Value>);

impl Row for JsonRow {
    fn cell(&self, index: usize) -> Cell<'_> {
        match self.0.get(index) {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Cell::Integer(i),
                None => Cell::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            Some(Value::String(s)) => Cell::Text(s),
            Some(Value::Bool(b)) => Cell::Integer(i64::from(*b)),
            _ => Cell::Null,
        }
    }
}

/// The rows of a JSON text of rows, each made of arrays of cells (none when it is not one).
fn rows(text: &str) -> Vec<JsonRow> {
    let parsed: Vec<Vec<Vec<Value>>> = serde_json::from_str(text).unwrap_or_default();
    parsed
        .into_iter()
        .map(|chunks| JsonRow(chunks.into_iter().flatten().collect()))
        .collect()
}

impl ExpandedCollection {
    /// Appends `"name@odata.count":n,"name":[...],"name@odata.nextLink":"..."` (each as there
    /// is one) for the entity of `row`.
    pub(super) fn write(&self, buf: &mut Vec<u8>, names: &Names, row: &dyn Row) {
        let mut first = true;
        if let Some(column) = self.count {
            buf.extend_from_slice(&names.count);
            match row.cell(column) {
                Cell::Integer(n) => write_integer(buf, n),
                _ => buf.push(b'0'),
            }
            first = false;
        }
        let Some(column) = self.rows else {
            return;
        };
        let entities = match row.cell(column) {
            Cell::Text(text) => rows(text),
            _ => Vec::new(),
        };
        if !first {
            buf.push(b',');
        }
        buf.extend_from_slice(&names.entities);
        buf.push(b'[');
        for (i, entity) in entities.iter().take(self.shown).enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            self.writer.write(buf, entity);
        }
        buf.push(b']');
        if let Some(link) = self
            .next_link
            .as_ref()
            .filter(|_| entities.len() > self.shown)
        {
            buf.push(b',');
            buf.extend_from_slice(&names.next_link);
            let mut url = entity_id(&link.set_url, &link.key_columns, row);
            url.push_str(&link.rest);
            write_string(buf, &url);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edm::{EntityType, Property};
    use crate::json::MetadataLevel;

    struct Cells(Vec<Cell<'static>>);

    impl Row for Cells {
        fn cell(&self, index: usize) -> Cell<'_> {
            self.0[index]
        }
    }

    #[test]
    fn entities_from_json_rows_with_count_and_next_link() {
        let ty = EntityType {
            name: "history".into(),
            key: vec!["dateKey".into()],
            properties: [
                ("dateKey", PrimitiveType::Int32),
                ("seen", PrimitiveType::DateTimeOffset),
                ("ok", PrimitiveType::Boolean),
                ("name", PrimitiveType::String),
            ]
            .into_iter()
            .map(|(name, ty)| Property {
                name: name.into(),
                ty,
                nullable: true,
            })
            .collect(),
            navigation: Vec::new(),
        };
        let writer = EntityWriter::new(
            &ty,
            "ns",
            &[0, 1, 2, 3],
            &[0],
            MetadataLevel::Minimal,
            false,
            "",
        );
        let collection = ExpandedCollection {
            rows: Some(1),
            count: Some(2),
            shown: 2,
            next_link: Some(RelatedLink {
                set_url: "http://h/devices".into(),
                key_columns: vec![(0, "deviceKey".into(), PrimitiveType::Int32)],
                rest: "/histories?$skip=2".into(),
            }),
            writer,
        };
        let text = r#"[[[20261101,0,1,"a\"b"]],[[20261102,null,0,null]],[[20261103,1,1,"c"]]]"#;
        let row = Cells(vec![Cell::Integer(42), Cell::Text(text), Cell::Integer(7)]);
        let mut buf = Vec::new();
        let names = Names::new("histories");
        collection.write(&mut buf, &names, &row);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            concat!(
                r#""histories@odata.count":7,"histories":["#,
                r#"{"dateKey":20261101,"seen":"1970-01-01T00:00:00Z","ok":true,"name":"a\"b"},"#,
                r#"{"dateKey":20261102,"seen":null,"ok":false,"name":null}],"#,
                r#""histories@odata.nextLink":"http://h/devices(42)/histories?$skip=2""#
            )
        );
        // as many as shown: no next link; only counted: the count alone
        let row = Cells(vec![Cell::Integer(42), Cell::Text("[]"), Cell::Integer(0)]);
        let mut buf = Vec::new();
        collection.write(&mut buf, &names, &row);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#""histories@odata.count":0,"histories":[]"#
        );
    }
}
