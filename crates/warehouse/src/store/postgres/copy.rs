//! A tenant's write transaction: rows buffered per collection in COPY text format and sent in
//! batches, and the statements a merge runs beside them.

use super::errors::query_err;
use super::values::{Param, PgRow};
use crate::model::Warehouse;
use crate::sql::changes::CHANGED_COLUMN;
use crate::sql::{PlannedQuery, SqlValue};
use crate::store::{ChangedDays, Loader, RowChange, StoreError};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use row::Row;
use std::collections::HashMap;

/// Rows buffered per collection before they are sent with COPY.
const COPY_BUFFER_BYTES: usize = 8 << 20;

/// Buffers rows per collection in COPY text format and sends them in batches.
pub(super) struct CopyLoader<'a, 'b> {
    pub(super) tx: &'a mut postgres::Transaction<'b>,
    pub(super) tenant: i64,
    /// The generation being published, which every row written records.
    pub(super) generation: i64,
    pub(super) buffers: HashMap<String, Vec<u8>>,
    pub(super) staged: std::collections::HashSet<String>,
    pub(super) changed: ChangedDays,
}

fn copy_text(out: &mut Vec<u8>, v: &SqlValue) {
    use std::io::Write;
    match v {
        SqlValue::Null => out.extend_from_slice(b"\\N"),
        SqlValue::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        SqlValue::Real(f) => {
            let _ = write!(out, "{f:?}");
        }
        SqlValue::Boolean(b) => out.push(if *b { b't' } else { b'f' }),
        SqlValue::Timestamp(t) => {
            odata::json::write_timestamp(out, *t);
        }
        SqlValue::Text(s) | SqlValue::Date(s) | SqlValue::Time(s) => {
            for b in s.bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
    }
}

/// The columns a collection's rows are copied with: the tenant, the properties, and the
/// publication that wrote them.
fn copied_columns(c: &crate::model::Collection) -> Vec<String> {
    std::iter::once("\"_tenant\"".to_string())
        .chain(c.properties.iter().map(|p| format!("\"{}\"", p.name)))
        .chain(std::iter::once(format!("\"{CHANGED_COLUMN}\"")))
        .collect()
}

impl CopyLoader<'_, '_> {
    fn flush(&mut self, collection: &str) -> Result<(), StoreError> {
        let Some(buf) = self.buffers.get_mut(collection).filter(|b| !b.is_empty()) else {
            return Ok(());
        };
        let c = Warehouse::get()
            .collection(collection)
            .expect("buffered collections exist");
        let columns = copied_columns(c).join(", ");
        // COPY cannot target a table under row-level security: copy into a transaction-local
        // staging table, then INSERT ... SELECT, which the policy's WITH CHECK still verifies.
        let stage = format!("\"_dw_stage_{}\"", c.name);
        if self.staged.insert(c.name.clone()) {
            self.tx
                .batch_execute(&format!(
                    "CREATE TEMP TABLE {stage} (LIKE \"{}\") ON COMMIT DROP",
                    c.name
                ))
                .map_err(query_err)?;
        }
        let mut writer = self
            .tx
            .copy_in(&format!("COPY {stage} ({columns}) FROM STDIN"))
            .map_err(query_err)?;
        use std::io::Write;
        writer
            .write_all(buf)
            .map_err(|e| StoreError::Refused(format!("{collection}: {e}")))?;
        writer
            .finish()
            .map_err(|e| StoreError::Refused(format!("{collection}: {}", query_err(e))))?;
        buf.clear();
        self.tx
            .batch_execute(&format!(
                "INSERT INTO \"{}\" ({columns}) SELECT {columns} FROM {stage}; TRUNCATE {stage}",
                c.name
            ))
            .map_err(|e| StoreError::Refused(format!("{collection}: {}", query_err(e))))
    }

    pub(super) fn flush_all(&mut self) -> Result<(), StoreError> {
        let names: Vec<String> = self.buffers.keys().cloned().collect();
        for n in names {
            self.flush(&n)?;
        }
        Ok(())
    }
}

impl Loader for CopyLoader<'_, '_> {
    fn insert(&mut self, collection: &str, values: &[SqlValue]) -> Result<(), StoreError> {
        let c = Warehouse::get()
            .collection(collection)
            .ok_or_else(|| StoreError::Refused(format!("unknown collection {collection}")))?;
        if values.len() != c.properties.len() {
            return Err(StoreError::Refused(format!(
                "{collection}: {} values for {} properties",
                values.len(),
                c.properties.len()
            )));
        }
        self.changed.note_row(c, values);
        let buf = self.buffers.entry(collection.to_string()).or_default();
        copy_text(buf, &SqlValue::Integer(self.tenant));
        for v in values {
            buf.push(b'\t');
            copy_text(buf, v);
        }
        buf.push(b'\t');
        copy_text(buf, &SqlValue::Integer(self.generation));
        buf.push(b'\n');
        if buf.len() >= COPY_BUFFER_BYTES {
            self.flush(collection)?;
        }
        Ok(())
    }
}

impl crate::store::Transaction for CopyLoader<'_, '_> {
    fn query(
        &mut self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row),
    ) -> Result<(), StoreError> {
        // rows buffered for COPY must be visible to the transaction's own reads
        self.flush_all()?;
        let params: Vec<Param> = query.params.iter().map(Param::from).collect();
        let mut rows = self
            .tx
            .query_raw(&query.sql, params.iter().map(Param::as_sql))
            .map_err(query_err)?;
        let mut formats: Option<bool> = None;
        while let Some(row) = rows.next().map_err(query_err)? {
            let formats = *formats.get_or_insert_with(|| {
                row.columns()
                    .iter()
                    .any(|c| matches!(*c.type_(), Type::DATE | Type::TIME))
            });
            on_row(&PgRow::new(&row, formats));
        }
        Ok(())
    }

    fn update_rows(
        &mut self,
        collection: &str,
        key: &[&str],
        changes: &[RowChange<'_>],
    ) -> Result<u64, StoreError> {
        // bulk: COPY the new rows into a staging table, then one UPDATE ... FROM (PostgreSQL
        // writes a new version of the whole row whatever changed)
        self.flush_all()?;
        if changes.is_empty() {
            return Ok(0);
        }
        let c = Warehouse::get()
            .collection(collection)
            .ok_or_else(|| StoreError::Refused(format!("unknown collection {collection}")))?;
        if let Some(k) = key.iter().find(|k| c.property_index(k).is_none()) {
            return Err(StoreError::Refused(format!("{collection} has no {k}")));
        }
        let stage = format!("\"_dw_update_{}\"", c.name);
        self.tx
            .batch_execute(&format!("CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE \"{}\") ON COMMIT DROP; TRUNCATE {stage}", c.name))
            .map_err(query_err)?;
        let mut buf = Vec::new();
        for row in changes.iter().map(|c| &c.new) {
            copy_text(&mut buf, &SqlValue::Integer(self.tenant));
            for v in row {
                buf.push(b'\t');
                copy_text(&mut buf, v);
            }
            buf.push(b'\t');
            copy_text(&mut buf, &SqlValue::Integer(self.generation));
            buf.push(b'\n');
        }
        let columns = copied_columns(c);
        let mut writer = self
            .tx
            .copy_in(&format!("COPY {stage} ({}) FROM STDIN", columns.join(", ")))
            .map_err(query_err)?;
        use std::io::Write;
        writer
            .write_all(&buf)
            .map_err(|e| StoreError::Refused(format!("{collection}: {e}")))?;
        writer.finish().map_err(query_err)?;
        let sets: Vec<String> = c
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .filter(|p| !key.contains(p))
            .chain(std::iter::once(CHANGED_COLUMN))
            .map(|p| format!("\"{p}\" = s.\"{p}\""))
            .collect();
        let found: String = key
            .iter()
            .map(|k| format!(" AND t.\"{k}\" = s.\"{k}\""))
            .collect();
        self.tx
            .execute(
                &format!("UPDATE \"{}\" AS t SET {} FROM {stage} AS s WHERE t.\"_tenant\" = s.\"_tenant\"{found}", c.name, sets.join(", ")),
                &[],
            )
            .map_err(query_err)
    }

    fn day_changed(&mut self, date_key: i64) {
        self.changed.note(date_key);
    }

    fn generation(&self) -> i64 {
        self.generation
    }

    fn execute(&mut self, statement: &PlannedQuery) -> Result<u64, StoreError> {
        self.flush_all()?;
        let params: Vec<Param> = statement.params.iter().map(Param::from).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
        self.tx.execute(&statement.sql, &refs).map_err(query_err)
    }
}
