//! A query string, as a client sends it, through everything the service does with it before
//! the store: splitting and decoding, parsing every option, aliases, binding against the
//! `devices` and `devicePropertyHistories` types, and planning SQL for both dialects.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odata::bind::{bind_expand, bind_filter_with, bind_orderby_with, bind_select};
use odata::syntax::{
    parse_expand, parse_filter, parse_orderby, parse_query_options, parse_select, Aliases,
    OrderByItem,
};
use warehouse::sql::{plan, CollectionQuery, PostgresDialect, SqliteDialect};
use warehouse::{ApiVersion, Warehouse};

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
    let targets = |name: &str| model.entity_types.iter().find(|t| t.name == name);
    for set in ["devices", "devicePropertyHistories"] {
        let entity = model.type_of(model.entity_set(set).expect("a set of the model"));
        let collection = Warehouse::get().collection(set).expect("a collection");
        let filter = options
            .get("$filter")
            .and_then(|f| parse_filter(f).ok())
            .and_then(|e| aliases.resolve(&e).ok())
            .and_then(|e| bind_filter_with(&e, entity, &targets).ok());
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
                bind_orderby_with(&items, entity, &targets).ok()
            })
            .unwrap_or_default();
        let select = options
            .get("$select")
            .and_then(|s| parse_select(s).ok())
            .and_then(|items| bind_select(&items, entity).ok())
            .unwrap_or_else(|| (0..entity.properties.len()).collect());
        if let Some(items) = options.get("$expand").and_then(|e| parse_expand(e).ok()) {
            let _ = bind_expand(&items, entity, &targets);
        }
        for dialect in [
            &SqliteDialect as &dyn warehouse::sql::Dialect,
            &PostgresDialect,
        ] {
            let q = CollectionQuery {
                collection,
                entity,
                tenant: 1,
                filter: filter.as_ref(),
                orderby: &orderby,
                select: &select,
                key: &[],
                min_date_key: None,
                after: None,
                offset: 0,
                limit: Some(101),
                now_micros: 0,
                expand: &[],
            };
            let _ = plan(&q, dialect);
        }
    }
});
