//! Entities as OData JSON objects: an [`EntityWriter`] prepared once per request writes one
//! entity per row, with its expansions; expanded collections (an entity's related entities,
//! read from one row column that holds them as JSON text) with their count and a next link to
//! the rest.

use super::value::{
    annotated_type, key_literal, quoted_name, write_integer, write_string, write_value,
    MetadataLevel,
};
use crate::edm::{EntityType, PrimitiveType};
use row::{Cell, Row};
use serde_json::Value;

/// A prepared writer for the entities of one response.
pub struct EntityWriter {
    /// (column index in the row, `"name":` pre-escaped, type)
    columns: Vec<(usize, Vec<u8>, PrimitiveType)>,
    /// Full metadata: key columns, `@odata.type` value and entity-set URL prefix.
    full: Option<FullMetadata>,
    /// Writes entity references (`{"@odata.id":"..."}`, `$expand=.../$ref`) instead of entities.
    reference: bool,
    ieee754_compatible: bool,
    /// Expanded navigation properties and nested objects, in the order they were added.
    expanded: Vec<Nested>,
    /// `"@odata.etag":"..."` pre-escaped, written before the properties (none: no ETag).
    etag: Option<Vec<u8>>,
}

/// What an entity holds after its properties.
enum Nested {
    /// An expanded single entity or a nested object: `"name":` pre-escaped, the row column
    /// that is null when there is no related entity (none: always written), its writer.
    Entity(Vec<u8>, Option<usize>, EntityWriter),
    /// An expanded collection, with the member names it writes.
    Collection(Names, ExpandedCollection),
}

struct FullMetadata {
    key_columns: Vec<(usize, String, PrimitiveType)>,
    type_annotation: Vec<u8>,
    id_prefix: String,
}

impl EntityWriter {
    /// Prepares a writer for `selected` properties (indices into `ty.properties`), reading property
    /// `selected[i]` from row column `i`. `entity_set_url` is the absolute URL of the entity set,
    /// used for ids in full metadata; `key_columns` gives the row column of each key property.
    pub fn new(
        ty: &EntityType,
        namespace: &str,
        selected: &[usize],
        key_columns: &[usize],
        level: MetadataLevel,
        ieee754_compatible: bool,
        entity_set_url: &str,
    ) -> Self {
        let columns = selected
            .iter()
            .enumerate()
            .map(|(col, &p)| {
                let prop = &ty.properties[p];
                let mut name = Vec::new();
                write_string(&mut name, &prop.name);
                name.push(b':');
                (col, name, prop.ty)
            })
            .collect();
        let full = (level == MetadataLevel::Full).then(|| {
            let mut type_annotation = Vec::new();
            write_string(&mut type_annotation, &format!("#{namespace}.{}", ty.name));
            FullMetadata {
                key_columns: ty
                    .key_indices()
                    .iter()
                    .zip(key_columns)
                    .map(|(&p, &c)| (c, ty.properties[p].name.clone(), ty.properties[p].ty))
                    .collect(),
                type_annotation,
                id_prefix: entity_set_url.to_string(),
            }
        });
        Self {
            columns,
            full,
            reference: false,
            ieee754_compatible,
            expanded: Vec::new(),
            etag: None,
        }
    }

    /// Prepares a writer of references to entities of `ty` (`{"@odata.id":"..."}`, whatever the
    /// metadata level), their key properties read from `key_columns`, their ids under
    /// `entity_set_url`.
    pub fn reference(
        ty: &EntityType,
        namespace: &str,
        key_columns: &[usize],
        entity_set_url: &str,
    ) -> Self {
        Self {
            reference: true,
            ..Self::new(
                ty,
                namespace,
                &[],
                key_columns,
                MetadataLevel::Full,
                false,
                entity_set_url,
            )
        }
    }

    /// Adds a property the entity type does not declare (a computed property), read from row
    /// column `column` and written after the selected properties.
    pub fn extra(mut self, name: &str, ty: PrimitiveType, column: usize) -> Self {
        self.columns.push((column, quoted_name(name), ty));
        self
    }

    /// Reads the selected properties from row column `first` on instead of 0 (an expanded
    /// entity's properties follow the main entity's in the row); key columns are unchanged.
    pub fn from_column(mut self, first: usize) -> Self {
        for column in &mut self.columns {
            column.0 += first;
        }
        self
    }

    /// Adds the expanded navigation property `name`, written by `writer`, or `null` when row
    /// column `present` is null (no related entity).
    pub fn expand(mut self, name: &str, present: usize, writer: EntityWriter) -> Self {
        self.expanded
            .push(Nested::Entity(quoted_name(name), Some(present), writer));
        self
    }

    /// Adds the expanded collection `name`.
    pub fn expand_collection(mut self, name: &str, collection: ExpandedCollection) -> Self {
        self.expanded
            .push(Nested::Collection(Names::new(name), collection));
        self
    }

    /// Adds the nested object `name`, always written by `writer` (the grouping properties
    /// reached through a navigation property in aggregated rows).
    pub fn nest(mut self, name: &str, writer: EntityWriter) -> Self {
        self.expanded
            .push(Nested::Entity(quoted_name(name), None, writer));
        self
    }

    /// Writes `tag` as every entity's `@odata.etag` (its own and those of its expansions; never
    /// references'), before the properties as the JSON format's ordering asks.
    pub fn with_etag(mut self, tag: &str) -> Self {
        let mut annotation = b"\"@odata.etag\":".to_vec();
        write_string(&mut annotation, tag);
        self.set_etag(&annotation);
        self
    }

    fn set_etag(&mut self, annotation: &[u8]) {
        if !self.reference {
            self.etag = Some(annotation.to_vec());
        }
        for nested in &mut self.expanded {
            match nested {
                Nested::Entity(_, _, writer) => writer.set_etag(annotation),
                Nested::Collection(_, collection) => collection.writer.set_etag(annotation),
            }
        }
    }

    /// Appends one entity object for the current row.
    pub fn write(&self, buf: &mut Vec<u8>, row: &dyn Row) {
        if let Some(full) = self.full.as_ref().filter(|_| self.reference) {
            buf.extend_from_slice(b"{\"@odata.id\":");
            write_string(buf, &entity_id(&full.id_prefix, &full.key_columns, row));
            buf.push(b'}');
            return;
        }
        buf.push(b'{');
        let mut first = true;
        if self.full.as_ref().is_some_and(|f| f.key_columns.is_empty()) {
            // a transient entity (aggregated rows): no type of the model, no id
            buf.extend_from_slice(b"\"@odata.id\":null");
            first = false;
        } else if let Some(full) = &self.full {
            buf.extend_from_slice(b"\"@odata.type\":");
            buf.extend_from_slice(&full.type_annotation);
            let id = entity_id(&full.id_prefix, &full.key_columns, row);
            buf.extend_from_slice(b",\"@odata.id\":");
            write_string(buf, &id);
            buf.extend_from_slice(b",\"@odata.editLink\":");
            write_string(buf, &id);
            first = false;
        }
        if let Some(etag) = &self.etag {
            if !first {
                buf.push(b',');
            }
            buf.extend_from_slice(etag);
            first = false;
        }
        for (col, name, ty) in &self.columns {
            if !first {
                buf.push(b',');
            }
            first = false;
            if self.full.is_some() {
                if let Some(t) = annotated_type(*ty) {
                    buf.extend_from_slice(&name[..name.len() - 2]);
                    buf.extend_from_slice(b"@odata.type\":\"#");
                    buf.extend_from_slice(t.as_bytes());
                    buf.extend_from_slice(b"\",");
                }
            }
            buf.extend_from_slice(name);
            write_value(buf, *ty, row.cell(*col), self.ieee754_compatible);
        }
        for nested in &self.expanded {
            if !first {
                buf.push(b',');
            }
            first = false;
            match nested {
                Nested::Entity(name, present, writer) => {
                    buf.extend_from_slice(name);
                    match present.map(|p| row.cell(p)) {
                        Some(Cell::Null) => buf.extend_from_slice(b"null"),
                        _ => writer.write(buf, row),
                    }
                }
                Nested::Collection(names, collection) => collection.write(buf, names, row),
            }
        }
        buf.push(b'}');
    }
}

/// The id of the entity of `row`: `prefix(key)`, the key as `(42)` or `(a=1,b=2)`, from the
/// key columns (row column, name, type).
fn entity_id(
    prefix: &str,
    key_columns: &[(usize, String, PrimitiveType)],
    row: &dyn Row,
) -> String {
    let mut id = prefix.to_string();
    id.push('(');
    let single = key_columns.len() == 1;
    for (i, (col, name, ty)) in key_columns.iter().enumerate() {
        if i > 0 {
            id.push(',');
        }
        if !single {
            id.push_str(name);
            id.push('=');
        }
        key_literal(&mut id, *ty, row.cell(*col));
    }
    id.push(')');
    id
}
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
            count: quoted_name(&format!("{name}@odata.count")),
            entities: quoted_name(name),
            next_link: quoted_name(&format!("{name}@odata.nextLink")),
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
