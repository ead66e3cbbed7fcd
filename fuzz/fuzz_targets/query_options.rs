//! A query string, as a client sends it, through everything the service does with it before
//! the store: splitting and decoding, parsing every option, aliases, binding against the
//! `devices` and `devicePropertyHistories` types, and planning SQL for both dialects.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odata::bind::{bind_expand, bind_select, Scope};
use odata::syntax::{
    parse_expand, parse_filter, parse_orderby, parse_query_options, parse_select, Aliases,
    OrderByItem,
};
use warehouse::sql::{plan, CollectionQuery, PostgresDialect, SqliteDialect};
use warehouse::{ApiVersion, Warehouse};

/// SQL of the simplest statement of a collection (every selected column), at most.
const STATEMENT_BASE: usize = 16 * 1024;

/// Most bytes of SQL a byte of query may become (sort keys are written as columns and in
/// `ORDER BY`, conditions in the page and count statements).
const SQL_BYTES_PER_QUERY_BYTE: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(options) = parse_query_options(query) else {
        return;
    };
    let Ok(aliases) = Aliases::parse(&options) else {
        return;
    };
    let model = Warehouse::get().edm(ApiVersion::V1);
    for set in ["devices", "devicePropertyHistories"] {
        let entity = model.type_of(model.entity_set(set).expect("a set of the model"));
        let collection = Warehouse::get().collection(set).expect("a collection");
        let filter = options
            .get("$filter")
            .and_then(|f| parse_filter(f).ok())
            .and_then(|e| aliases.resolve(&e).ok())
            .and_then(|e| Scope::new(entity, Some(model)).filter(&e).ok());
        let orderby = options
            .get("$orderby")
            .and_then(|o| parse_orderby(o).ok())
            .and_then(|items| {
                let exprs = aliases.resolve_all(items.iter().map(|i| &i.expr)).ok()?;
                let items: Vec<OrderByItem> = exprs
                    .into_iter()
                    .zip(items)
                    .map(|(expr, i)| OrderByItem {
                        expr,
                        direction: i.direction,
                    })
                    .collect();
                Scope::new(entity, Some(model)).orderby(&items).ok()
            })
            .unwrap_or_default();
        let select = options
            .get("$select")
            .and_then(|s| parse_select(s).ok())
            .and_then(|items| bind_select(&items, entity).ok())
            .unwrap_or_else(|| (0..entity.properties.len()).collect());
        if let Some(items) = options.get("$expand").and_then(|e| parse_expand(e).ok()) {
            let _ = bind_expand(&items, entity, model);
        }
        for dialect in [
            &SqliteDialect as &dyn warehouse::sql::Dialect,
            &PostgresDialect,
        ] {
            let q = CollectionQuery {
                collection,
                entity,
                apply: None,
                tenant: 1,
                filter: filter.as_ref(),
                orderby: &orderby,
                select: &select,
                computed: &[],
                key: &[],
                min_date_key: None,
                after: None,
                offset: 0,
                limit: Some(101),
                now_micros: 0,
                expand: &[],
            };
            // a statement grows linearly with the query: a form that repeated a nested
            // argument made 127 characters of $filter need gigabytes of SQL
            if let Ok(p) = plan(&q, dialect) {
                let bound = STATEMENT_BASE + SQL_BYTES_PER_QUERY_BYTE * query.len();
                assert!(
                    p.rows.sql.len() <= bound,
                    "{} bytes of query became {} bytes of SQL",
                    query.len(),
                    p.rows.sql.len()
                );
            }
        }
    }
});
