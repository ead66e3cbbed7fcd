//! A statement grows linearly with the request's expressions, on every dialect: no SQL form
//! names a nested expression more than once (a form that did multiplied the statement at each
//! level: 18 nested `floor` needed 8 GB to write).

use odata::bind::{bind_filter, Computed, Typed, TypedKind};
use odata::edm::PrimitiveType;
use odata::syntax::parse_filter;
use proptest::prelude::*;
use warehouse::sql::{plan, CollectionQuery, Dialect, MAX_STATEMENT_BYTES};
use warehouse::{ApiVersion, PostgresDialect, SqliteDialect, Warehouse};

fn devices() -> &'static odata::edm::EntityType {
    let model = Warehouse::get().edm(ApiVersion::V1);
    model.type_of(model.entity_set("devices").unwrap())
}

/// The page statement of `devices` filtered by `filter` and returning it as a computed property.
fn statement(filter: &Typed, dialect: &dyn Dialect) -> Result<String, String> {
    let w = Warehouse::get();
    let computed = [Computed {
        name: "c".into(),
        expr: filter.clone(),
    }];
    let q = CollectionQuery {
        collection: w.collection("devices").unwrap(),
        apply: None,
        entity: devices(),
        tenant: 7,
        filter: Some(filter),
        orderby: &[],
        select: &[0],
        computed: &computed,
        key: &[],
        min_date_key: None,
        max_date_key: None,
        valid_during: None,
        as_of_day: None,
        changed: None,
        after: None,
        offset: 0,
        limit: Some(11),
        now_micros: 0,
        expand: &[],
    };
    plan(&q, dialect)
        .map(|p| p.rows.sql)
        .map_err(|e| e.to_string())
}

/// Bytes of SQL beyond those of the same statement with the simplest filter.
fn growth(filter: &str, dialect: &dyn Dialect) -> Option<usize> {
    let bound = bind_filter(&parse_filter(filter).ok()?, devices()).ok()?;
    let base = bind_filter(&parse_filter("isDeleted").unwrap(), devices()).unwrap();
    let sql = statement(&bound, dialect).unwrap();
    Some(
        sql.len()
            .saturating_sub(statement(&base, dialect).unwrap().len()),
    )
}

/// Most bytes of SQL one byte of filter may become (functions with long SQL names, the
/// PostgreSQL number grammar of a cast, the filter written twice: as condition and as column).
const BYTES_PER_FILTER_BYTE: usize = 16;

fn number() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("totalStorageSpaceInBytes".to_string()),
        Just("deviceTypeKey".to_string()),
        Just("1.5".to_string()),
        Just("3".to_string()),
    ];
    leaf.prop_recursive(8, 64, 3, |n| {
        prop_oneof![
            n.clone().prop_map(|x| format!("floor({x})")),
            n.clone().prop_map(|x| format!("ceiling({x})")),
            n.clone().prop_map(|x| format!("round({x})")),
            (n.clone(), n.clone()).prop_map(|(a, b)| format!("({a} add {b})")),
            (n.clone(), n.clone()).prop_map(|(a, b)| format!("({a} div {b})")),
            (n.clone(), n.clone()).prop_map(|(a, b)| format!("({a} mod {b})")),
            n.clone().prop_map(|x| format!("cast({x},Edm.Int64)")),
            n.clone()
                .prop_map(|x| format!("length(cast(cast({x},Edm.String),Edm.String))")),
            n.clone()
                .prop_map(|x| format!("cast(cast({x},Edm.String),Edm.Int32)")),
            n.prop_map(|x| format!("cast(cast({x},Edm.String),Edm.Double)")),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("deviceName".to_string()),
        Just("'x'".to_string()),
        Just("osVersion".to_string()),
    ];
    leaf.prop_recursive(8, 64, 3, |s| {
        prop_oneof![
            (s.clone(), s.clone()).prop_map(|(a, b)| format!("concat({a},{b})")),
            s.clone().prop_map(|x| format!("tolower({x})")),
            s.clone().prop_map(|x| format!("trim({x})")),
            s.clone().prop_map(|x| format!("substring({x},1)")),
            s.clone()
                .prop_map(|x| format!("cast(endswith({x},'a'),Edm.String)")),
            s.clone()
                .prop_map(|x| format!("cast(startswith('a',{x}),Edm.String)")),
            s.clone()
                .prop_map(|x| format!("cast(floor(length({x})),Edm.String)")),
            s.clone().prop_map(|x| format!(
                "cast(fractionalseconds(lastSyncDateTime) add length({x}),Edm.String)"
            )),
            s.clone()
                .prop_map(|x| format!("cast(cast({x},Edm.Boolean),Edm.String)")),
            s.clone()
                .prop_map(|x| format!("cast(length({x}) in (1,2,null),Edm.String)")),
            s.prop_map(|x| format!("cast(length({x}) ne 4,Edm.String)")),
        ]
    })
}

fn condition() -> impl Strategy<Value = String> {
    prop_oneof![
        (text(), text()).prop_map(|(a, b)| format!("endswith({a},{b})")),
        (text(), text()).prop_map(|(a, b)| format!("startswith({a},{b})")),
        (text(), text()).prop_map(|(a, b)| format!("contains({a},{b})")),
        (number(), number()).prop_map(|(a, b)| format!("{a} ge {b}")),
        number().prop_map(|a| format!("{a} eq 1")),
        number().prop_map(|a| format!("{a} in (1,2,null)")),
        text().prop_map(|a| format!("{a} ne 'x'")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_statement_grows_linearly_with_its_expression(filter in condition()) {
        for dialect in [&SqliteDialect as &dyn Dialect, &PostgresDialect] {
            if let Some(growth) = growth(&filter, dialect) {
                prop_assert!(
                    growth <= BYTES_PER_FILTER_BYTE * filter.len(),
                    "{}: {} bytes of filter became {growth} bytes of SQL: {filter}",
                    dialect.name(),
                    filter.len(),
                );
            }
        }
    }
}

#[test]
fn deeply_nested_functions_write_short_statements() {
    // each was exponential: 14 nested floor took 55 s and 6.5 GB, 18 aborted the process
    let nested = |f: &str, inner: &str, depth: usize| {
        let mut e = inner.to_string();
        for _ in 0..depth {
            e = f.replace("{}", &e);
        }
        e
    };
    let cases = [
        nested("floor({})", "totalStorageSpaceInBytes", 90) + " ge 0",
        nested("ceiling({})", "totalStorageSpaceInBytes", 90) + " ge 0",
        nested("cast(cast({},Edm.String),Edm.Int64)", "deviceTypeKey", 30) + " ge 0",
        nested("cast(cast({},Edm.String),Edm.Double)", "deviceTypeKey", 30) + " ge 0",
        "endswith(deviceName,".to_string()
            + &nested("cast(endswith(deviceName,{}),Edm.String)", "'a'", 30)
            + ")",
        nested("cast(cast({},Edm.Boolean),Edm.String)", "deviceName", 30) + " eq 'true'",
        nested("cast(length({}) ne 4,Edm.String)", "deviceName", 30) + " eq 'true'",
        nested("cast(length({}) in (1,null),Edm.String)", "deviceName", 30) + " eq 'true'",
    ];
    for filter in cases {
        for dialect in [&SqliteDialect as &dyn Dialect, &PostgresDialect] {
            let growth = growth(&filter, dialect).expect(&filter);
            assert!(
                growth <= BYTES_PER_FILTER_BYTE * filter.len(),
                "{}: {} bytes of filter became {growth} bytes of SQL",
                dialect.name(),
                filter.len(),
            );
        }
    }
}

#[test]
fn a_statement_over_the_limit_is_refused_with_its_size() {
    // the limits on a URL keep requests far below it: 1 000 alternatives write some 110 KB
    let alternatives = (0..1000)
        .map(|i| format!("deviceName eq 'd{i}'"))
        .collect::<Vec<_>>()
        .join(" or ");
    let bound = bind_filter(&parse_filter(&alternatives).unwrap(), devices()).unwrap();
    let sql = statement(&bound, &SqliteDialect).unwrap();
    assert!(sql.len() < MAX_STATEMENT_BYTES / 16, "{}", sql.len());
    // a tree no parser would return: 2^15 copies of those alternatives
    let mut huge = bound;
    for _ in 0..15 {
        huge = Typed {
            kind: TypedKind::Or(Box::new(huge.clone()), Box::new(huge)),
            ty: Some(PrimitiveType::Boolean),
            nullable: false,
        };
        if statement(&huge, &SqliteDialect).is_err() {
            break;
        }
    }
    let refused = statement(&huge, &SqliteDialect).unwrap_err();
    assert!(
        refused.contains(&format!("over the limit of {MAX_STATEMENT_BYTES} bytes")),
        "{refused}"
    );
}
