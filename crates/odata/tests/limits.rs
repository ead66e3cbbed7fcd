//! Property tests: expressions and alias graphs of any shape and size are parsed (or refused)
//! without a panic, in bounded time, and what is accepted obeys the documented bounds.

use odata::syntax::limits::{check_expressions, MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_NODES};
use odata::syntax::{
    parse_apply, parse_compute, parse_expand, parse_filter, parse_orderby, parse_query_options,
    parse_relative_uri, parse_resource_path, parse_search, parse_uri, Aliases,
};
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Small expression trees: operands, operators, unary operators, parentheses, calls, lists and
/// alias references.
fn small_expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("deviceKey".to_string()),
        Just("deviceName".to_string()),
        Just("1".to_string()),
        Just("-2.5".to_string()),
        Just("'x''y'".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("2026-11-01".to_string()),
        (0..6u8).prop_map(|i| format!("@a{i}")),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "eq", "ne", "gt", "le", "and", "or", "add", "sub", "mul", "div", "mod"
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("concat({a},{b})")),
            inner.prop_map(|a| format!("length({a})")),
        ]
    })
}

/// Expressions of any shape and size: a small tree, or one made wide (long chains, long lists)
/// or deep (nesting, unary operators, calls) beyond the bounds.
fn expression() -> impl Strategy<Value = String> {
    let ops = prop::sample::select(vec!["or", "and", "add", "eq", "mul"]);
    prop_oneof![
        small_expression(),
        (small_expression(), 1..3000usize, ops)
            .prop_map(|(a, n, op)| vec![a; n].join(&format!(" {op} "))),
        (small_expression(), 1..300usize).prop_map(|(a, n)| format!(
            "{}{a}{}",
            "(".repeat(n),
            ")".repeat(n)
        )),
        (small_expression(), 1..300usize).prop_map(|(a, n)| format!("{}{a}", "not ".repeat(n))),
        (small_expression(), 1..200usize).prop_map(|(a, n)| format!(
            "{}{a}{}",
            "length(".repeat(n),
            ")".repeat(n)
        )),
        (small_expression(), 1..5000usize)
            .prop_map(|(a, n)| format!("{a} in ({})", vec!["1"; n].join(","))),
    ]
}

/// Parameter aliases `@a0`..`@a5`, each an expression that may name the others (cycles too).
fn aliases() -> impl Strategy<Value = String> {
    prop::collection::vec(small_expression(), 6).prop_map(|values| {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "@a{i}={}",
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_filter_is_parsed_or_refused_within_bounds(text in expression(), query in aliases()) {
        let started = Instant::now();
        let aliases = Aliases::parse(&parse_query_options(&query).unwrap());
        if let Ok(expr) = parse_filter(&text) {
            prop_assert!(check_expressions([&expr]).is_ok());
            if let Ok(aliases) = aliases {
                if let Ok(resolved) = aliases.resolve(&expr) {
                    prop_assert!(check_expressions([&resolved]).is_ok());
                }
            }
        }
        prop_assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn any_orderby_is_parsed_or_refused_within_bounds(items in prop::collection::vec(small_expression(), 1..40), deep in expression()) {
        let mut items = items;
        items.push(deep);
        let text = items.join(",");
        let started = Instant::now();
        if let Ok(parsed) = parse_orderby(&text) {
            prop_assert!(parsed.len() <= 32);
            prop_assert!(check_expressions(parsed.iter().map(|i| &i.expr)).is_ok());
        }
        prop_assert!(started.elapsed() < Duration::from_secs(2));
    }
}

/// Text made of the pieces the `$apply`, `$search`, `$compute` and `$expand` grammars use, in any
/// order, and deep nestings of their parentheses.
fn option_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "groupby((",
        "aggregate(",
        "filter(",
        "compute(",
        "search(",
        "topsum(",
        "concat(",
        "identity",
        "orderby(",
        "top(",
        "(",
        ")",
        "/",
        ",",
        ";",
        " ",
        ":",
        "'",
        "\"",
        "$count",
        " as ",
        " with ",
        "sum",
        "n",
        "deviceKey",
        "h/any(x:",
        "x/a",
        " eq ",
        "1",
        "AND",
        "OR",
        "NOT",
        "$expand=",
        "$filter=",
        "$levels=",
        "max",
        "*",
        "$ref",
        "$root/",
        "$compute=",
        "$search=",
        "$top=1",
        "$select=",
        "a(b=",
        "@c",
        "%2F",
        "%27",
        "$filter(",
        "$crossjoin(",
        "$metadata",
        "?",
        "&",
        "#",
        "=",
        "{\"a\":[",
    ]);
    prop_oneof![
        prop::collection::vec(piece, 0..400).prop_map(|p| p.concat()),
        (
            prop::sample::select(vec![
                "concat(",
                "(",
                "a($expand=",
                "h/any(x:",
                "NOT ",
                "$root/a(",
                "a/$filter(",
                "x/",
            ]),
            1..3000usize
        )
            .prop_map(|(open, n)| open.repeat(n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_apply_search_compute_or_expand_is_parsed_or_refused_within_bounds(text in option_text()) {
        let started = Instant::now();
        let _ = parse_apply(&text);
        let _ = parse_search(&text);
        let _ = parse_compute(&text);
        let _ = parse_expand(&text);
        let _ = parse_filter(&text);
        let _ = parse_resource_path(&text);
        let _ = parse_relative_uri(&text);
        let _ = parse_uri(&format!("http://h/{text}"));
        prop_assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}

#[test]
fn the_bounds_are_the_documented_ones() {
    assert_eq!((MAX_EXPRESSION_NODES, MAX_EXPRESSION_DEPTH), (4000, 100));
}
