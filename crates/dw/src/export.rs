//! `dw export`: a collection written to a file straight from the store, through the same binder
//! and planner as the service (so `--filter` and `--select` mean what `$filter` and `$select`
//! mean), in statements of [`BATCH`] rows that continue by keyset, so memory and each
//! statement's time stay the same whatever the collection's size.

use crate::error::{CliError, CliResult};
use crate::settings::CommonArgs;
use crate::settings::{self, Settings};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use odata::edm::{EntityType, Lookup, PrimitiveType};
use odata::json::{EntityWriter, MetadataLevel};
use odata::read::ReadQuery;
use odata::syntax;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use warehouse::model::ApiVersion;
use warehouse::sql::{self, KeysetPosition, Reading, SqlValue};
use warehouse::store::{Cell, Row};
use warehouse::{Store, Warehouse};

/// Rows one statement reads; the next continues after the last.
const BATCH: u64 = 50_000;

/// `dw export COLLECTION`.
#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The collection (entity set), named as the service names it (any case).
    collection: String,
    /// Rows to export, as `$filter` writes it (`dateKey ge 20261101 and complianceStateKey eq 2`).
    #[arg(long)]
    filter: Option<String>,
    /// Properties to export, as `$select` writes them (`deviceKey,deviceName`); all by default.
    #[arg(long)]
    select: Option<String>,
    /// The file's format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// The file to write (replaced only once the export is complete); standard output without it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The model's version (`v1.0` or `beta`).
    #[arg(long, default_value = "v1.0")]
    api_version: String,
    /// The last days of facts only, as `maxhistorydays` (a filter on `dateKey` wins over it).
    #[arg(long)]
    maxhistorydays: Option<u32>,
}

/// File formats of `dw export`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// RFC 4180 CSV, UTF-8 with a byte-order mark (so Excel reads it as UTF-8), a header row,
    /// CRLF line ends, date-times in ISO 8601 UTC, Booleans as true/false, null as nothing; text
    /// that a spreadsheet would run as a formula starts with `'` (see [`csv_cell`]).
    Csv,
    /// One JSON object per line, as the service writes entities.
    Ndjson,
    /// One JSON array of the objects.
    Json,
}

/// Runs `dw export`.
pub(crate) fn run(a: ExportArgs) -> CliResult<()> {
    let settings = Settings::load(
        a.common.config.as_deref(),
        &settings::Overrides::from_common(&a.common),
    )?;
    let version = ApiVersion::parse(&a.api_version).ok_or_else(|| {
        CliError::Usage(format!(
            "api-version '{}' is not v1.0 or beta",
            a.api_version
        ))
    })?;
    let model = Warehouse::get().edm(version);
    let set = match model.find_entity_set(&a.collection) {
        Lookup::Found(i) => &model.entity_sets[i],
        _ => {
            return Err(CliError::Failed(format!(
                "'{}' is not a collection of api-version {}",
                a.collection, a.api_version
            )))
        }
    };
    let entity = model.type_of(set);
    let options = syntax::QueryOptions {
        system: [("$filter", &a.filter), ("$select", &a.select)]
            .into_iter()
            .filter_map(|(name, value)| {
                let value = value.clone()?;
                Some(syntax::QueryOption {
                    name: name.to_string(),
                    value,
                })
            })
            .collect(),
        custom: Vec::new(),
    };
    let read = ReadQuery::bind(&options, &set.name, entity, model)
        .map_err(option_error)?
        .with_history_days(a.maxhistorydays);
    let store = crate::settings::open_store(&settings)?;
    let tenant = store
        .tenant(&settings.tenant)?
        .ok_or_else(|| CliError::Usage(format!("the store has no tenant '{}'", settings.tenant)))?;
    let first = Reading {
        tenant: tenant.id,
        snapshot_date_key: tenant.snapshot_date_key,
        now_micros: now_micros(),
        after: None,
        offset: 0,
        limit: Some(BATCH),
        changed: None,
    };
    let bar = progress(store.as_ref(), &read, &first)?;
    let mut sink = Sink::open(a.out.as_deref())?;
    let mut out = Output::new(a.format, entity, &read.select, &set.name);
    out.start(&mut sink.buf);
    let mut position: Option<KeysetPosition> = None;
    loop {
        let reading = Reading {
            after: position.as_ref(),
            ..first
        };
        let plan = sql::plan_read(&read, &reading, store.dialect())?;
        let cursor = &plan.cursor;
        let (mut read, mut last) = (0u64, None);
        let mut failed = None;
        store.stream(&plan.rows, &mut |row| {
            out.row(&mut sink.buf, row);
            read += 1;
            if read == BATCH {
                // where the next statement continues
                last = Some(KeysetPosition(
                    (cursor.selected..cursor.selected + cursor.sort_keys)
                        .map(|i| SqlValue::from(row.cell(i)))
                        .collect(),
                ));
            }
            if sink.buf.len() >= 1 << 16 {
                if let Err(e) = sink.flush() {
                    failed = Some(e);
                    return false;
                }
            }
            true
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        bar.inc(read);
        match last {
            Some(next) => position = Some(next),
            None => break,
        }
    }
    out.end(&mut sink.buf);
    sink.finish()?;
    bar.finish_and_clear();
    Ok(())
}

/// An option's error, named as the command line names the option, with where in its text the
/// problem starts.
fn option_error(e: odata::ODataError) -> CliError {
    let option = e.target.as_deref().unwrap_or_default().replace('$', "--");
    CliError::Usage(format!(
        "{option}: {} (at character {})",
        e.message,
        e.position.unwrap_or(0)
    ))
}

fn now_micros() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64
}

/// A progress bar of the rows to export, drawn when standard error is a terminal (the count is
/// only read then).
fn progress(
    store: &dyn Store,
    read: &ReadQuery<'_>,
    reading: &Reading<'_>,
) -> CliResult<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return Ok(ProgressBar::with_draw_target(
            None,
            ProgressDrawTarget::hidden(),
        ));
    }
    let total = store.count(&sql::plan_read(read, reading, store.dialect())?.count)?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {human_pos}/{human_len} rows, {per_sec}, {eta} left",
        )
        .expect("a valid template"),
    );
    Ok(bar)
}

/// Where the file goes: a temporary file beside `--out`, renamed over it once complete (a failed
/// export leaves no half file), or standard output.
struct Sink {
    buf: Vec<u8>,
    writer: Box<dyn Write>,
    target: Option<(PathBuf, PathBuf)>,
}

impl Sink {
    fn open(out: Option<&Path>) -> CliResult<Self> {
        let (writer, target): (Box<dyn Write>, _) = match out {
            Some(path) => {
                // this process's own: two exports to one file each write theirs, and the one
                // renamed last is whole
                let partial = path.with_extension(format!(
                    "{}{}.partial",
                    path.extension()
                        .map(|e| format!("{}.", e.to_string_lossy()))
                        .unwrap_or_default(),
                    std::process::id()
                ));
                let file = std::fs::File::create_new(&partial).map_err(CliError::io(&partial))?;
                (Box::new(file), Some((partial, path.to_path_buf())))
            }
            None => (Box::new(std::io::stdout().lock()), None),
        };
        Ok(Self {
            buf: Vec::with_capacity(1 << 17),
            writer,
            target,
        })
    }

    fn flush(&mut self) -> CliResult<()> {
        self.writer
            .write_all(&self.buf)
            .map_err(CliError::io_doing("writing the export"))?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> CliResult<()> {
        self.flush()?;
        self.writer
            .flush()
            .map_err(CliError::io_doing("writing the export"))?;
        drop(self.writer);
        if let Some((partial, path)) = self.target {
            std::fs::rename(&partial, &path).map_err(CliError::io(&path))?;
        }
        Ok(())
    }
}

/// Writes rows in one of the [`Format`]s.
struct Output {
    format: Format,
    /// The selected properties' names and types (CSV).
    columns: Vec<(String, PrimitiveType)>,
    /// The entity writer (JSON formats).
    writer: EntityWriter,
    rows: u64,
}

impl Output {
    fn new(format: Format, entity: &EntityType, select: &[usize], set: &str) -> Self {
        let columns = select
            .iter()
            .map(|&p| (entity.properties[p].name.clone(), entity.properties[p].ty))
            .collect();
        let writer = EntityWriter::new(
            entity,
            &Warehouse::get().namespace,
            select,
            &[],
            MetadataLevel::None,
            false,
            set,
        );
        Self {
            format,
            columns,
            writer,
            rows: 0,
        }
    }

    fn start(&self, buf: &mut Vec<u8>) {
        match self.format {
            Format::Csv => {
                buf.extend_from_slice("\u{feff}".as_bytes());
                for (i, (name, _)) in self.columns.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    csv_text(buf, name);
                }
                buf.extend_from_slice(b"\r\n");
            }
            Format::Ndjson => {}
            Format::Json => buf.push(b'['),
        }
    }

    fn row(&mut self, buf: &mut Vec<u8>, row: &dyn Row) {
        match self.format {
            Format::Csv => {
                for (i, (_, ty)) in self.columns.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    csv_cell(buf, *ty, row.cell(i));
                }
                buf.extend_from_slice(b"\r\n");
            }
            Format::Ndjson => {
                self.writer.write(buf, row);
                buf.push(b'\n');
            }
            Format::Json => {
                if self.rows > 0 {
                    buf.push(b',');
                }
                self.writer.write(buf, row);
            }
        }
        self.rows += 1;
    }

    fn end(&self, buf: &mut Vec<u8>) {
        if self.format == Format::Json {
            buf.extend_from_slice(b"]\n");
        }
    }
}

/// One CSV field of type `ty`: nothing for null, `true`/`false`, ISO 8601 date-times, numbers as
/// the service writes them, text quoted when it holds a comma, quote or line break. Text that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` before it, as OWASP
/// advises against CSV injection: device names are chosen by the devices' users, and Excel or
/// LibreOffice would run `=HYPERLINK(...)` as a formula (the NDJSON and JSON formats keep every
/// text exactly).
fn csv_cell(buf: &mut Vec<u8>, ty: PrimitiveType, cell: Cell<'_>) {
    match (cell, ty) {
        (Cell::Null, _) => {}
        (Cell::Integer(v), PrimitiveType::Boolean) => {
            buf.extend_from_slice(if v != 0 { b"true" } else { b"false" })
        }
        (Cell::Integer(v), PrimitiveType::DateTimeOffset) => odata::json::write_timestamp(buf, v),
        (Cell::Integer(v), _) => odata::json::write_integer(buf, v),
        (Cell::Real(v), _) => buf.extend_from_slice(format!("{v:?}").as_bytes()),
        (Cell::Text(s), _) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => {
            csv_text(buf, &format!("'{s}"))
        }
        (Cell::Text(s), _) => csv_text(buf, s),
    }
}

/// Text as an RFC 4180 field: quoted (quotes doubled) when it holds a comma, a quote or a line
/// break, as written otherwise.
fn csv_text(buf: &mut Vec<u8>, s: &str) {
    if !s.contains([',', '"', '\n', '\r']) {
        buf.extend_from_slice(s.as_bytes());
        return;
    }
    buf.push(b'"');
    for part in s.split_inclusive('"') {
        buf.extend_from_slice(part.as_bytes());
        if part.ends_with('"') {
            buf.push(b'"');
        }
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields() {
        let field = |ty, cell| {
            let mut b = Vec::new();
            csv_cell(&mut b, ty, cell);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(field(PrimitiveType::String, Cell::Text("plain")), "plain");
        assert_eq!(field(PrimitiveType::String, Cell::Text("a,b")), "\"a,b\"");
        assert_eq!(
            field(PrimitiveType::String, Cell::Text("say \"hi\"")),
            "\"say \"\"hi\"\"\""
        );
        assert_eq!(
            field(PrimitiveType::String, Cell::Text("two\r\nlines")),
            "\"two\r\nlines\""
        );
        assert_eq!(field(PrimitiveType::Boolean, Cell::Integer(1)), "true");
        // formulas a spreadsheet would run
        assert_eq!(
            field(
                PrimitiveType::String,
                Cell::Text("=HYPERLINK(\"http://x\",\"y\")")
            ),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        for start in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                field(PrimitiveType::String, Cell::Text(start))
                    .trim_start_matches('"')
                    .starts_with('\''),
                "{start:?}"
            );
        }
        assert_eq!(field(PrimitiveType::Int64, Cell::Integer(-5)), "-5");
        assert_eq!(field(PrimitiveType::String, Cell::Text("a=b")), "a=b");
        assert_eq!(
            field(
                PrimitiveType::DateTimeOffset,
                Cell::Integer(1_762_000_000_500_000)
            ),
            "2025-11-01T12:26:40.5Z"
        );
        assert_eq!(field(PrimitiveType::Int64, Cell::Integer(-7)), "-7");
        assert_eq!(field(PrimitiveType::Int32, Cell::Null), "");
    }
}
