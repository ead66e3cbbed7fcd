//! Bounds on the size of what a request may ask for, so that the cost of parsing, binding and
//! planning one request is bounded whatever its shape.
//!
//! Every later pass (binder, planner, SQL writer, the database's own parser) walks expressions
//! recursively, so the parser bounds both the number of nodes and the height of every expression
//! tree it returns, and alias substitution bounds what the aliases expand to. Chains of `and`
//! and `or` are built balanced (see [`super::parse_filter`]), so a long list of alternatives, as
//! Power Query writes for "is one of these values", stays shallow.

use super::{Expr, ExprKind, SyntaxError};

/// Most nodes (operators, operands, function calls, list items) in one expression option, after
/// parameter aliases are expanded. `$orderby` counts all of its items together.
pub const MAX_EXPRESSION_NODES: usize = 4000;

/// Greatest height of an expression tree (nesting of operators, parentheses and calls).
pub const MAX_EXPRESSION_DEPTH: usize = 100;

/// Most items in `$orderby`.
pub const MAX_ORDERBY_ITEMS: usize = 32;

/// Most items in `$select` (at any level).
pub const MAX_SELECT_ITEMS: usize = 256;

/// Most items in `$expand`.
pub const MAX_EXPAND_ITEMS: usize = 32;

/// Most words and phrases in `$search` (each is compared with every string property).
pub const MAX_SEARCH_TERMS: usize = 32;

/// Most stages of `$apply` after its aggregation (each `top` or `skip` followed by more
/// transformations starts one: planners nest a query per stage).
pub const MAX_APPLY_STAGES: usize = 16;

/// Deepest nesting of `$expand` inside `$expand`.
pub const MAX_EXPAND_DEPTH: usize = 8;

/// Most parameter aliases one alias may pass through to reach a value (`@a=@b&@b=@c...`).
pub const MAX_ALIAS_CHAIN: usize = 32;

/// The error for an expression with more than [`MAX_EXPRESSION_NODES`] nodes, at `offset`.
pub(crate) fn too_many_nodes(offset: usize) -> SyntaxError {
    SyntaxError::new(
        offset,
        format!(
            "the expression has more than {MAX_EXPRESSION_NODES} operators and operands \
             (the limit for one query option, parameter aliases expanded)"
        ),
    )
}

/// The error for an expression nested more than [`MAX_EXPRESSION_DEPTH`] levels, at `offset`.
pub(crate) fn too_deep(offset: usize) -> SyntaxError {
    SyntaxError::new(
        offset,
        format!(
            "the expression is nested more than {MAX_EXPRESSION_DEPTH} levels deep \
             (the limit for one query option, parameter aliases expanded)"
        ),
    )
}

/// The error for a list option with more than `limit` items; `offset` is where the first item
/// beyond the limit starts.
pub(crate) fn too_many_items(option: &str, limit: usize, offset: usize) -> SyntaxError {
    SyntaxError::new(
        offset,
        format!("{option} has more than {limit} items (the limit)"),
    )
}

/// Checks that the trees in `exprs` have at most [`MAX_EXPRESSION_NODES`] nodes together and
/// each a height of at most [`MAX_EXPRESSION_DEPTH`]. Walks with an explicit stack, so it is
/// safe on any tree the caller holds.
pub fn check_expressions<'a>(exprs: impl IntoIterator<Item = &'a Expr>) -> Result<(), SyntaxError> {
    let mut nodes = 0usize;
    let mut stack: Vec<(&Expr, usize)> = Vec::new();
    for root in exprs {
        stack.push((root, 1));
        while let Some((e, depth)) = stack.pop() {
            nodes += 1;
            if nodes > MAX_EXPRESSION_NODES {
                return Err(too_many_nodes(e.span.start));
            }
            if depth > MAX_EXPRESSION_DEPTH {
                return Err(too_deep(e.span.start));
            }
            for child in children(e) {
                stack.push((child, depth + 1));
            }
        }
    }
    Ok(())
}

/// The direct sub-expressions of `e`.
fn children(e: &Expr) -> Box<dyn Iterator<Item = &Expr> + '_> {
    match &e.kind {
        ExprKind::Unary(_, x) => Box::new(std::iter::once(x.as_ref())),
        ExprKind::Binary(_, l, r) => Box::new([l.as_ref(), r.as_ref()].into_iter()),
        ExprKind::In(x, list) => Box::new(std::iter::once(x.as_ref()).chain(list.iter())),
        ExprKind::Call(_, args) => Box::new(args.iter()),
        ExprKind::Lambda {
            predicate: Some(predicate),
            ..
        } => Box::new(std::iter::once(&predicate.1)),
        ExprKind::Literal(_)
        | ExprKind::Path(_)
        | ExprKind::It
        | ExprKind::Alias(_)
        | ExprKind::Count(_)
        | ExprKind::Root(_)
        | ExprKind::Lambda { .. } => Box::new(std::iter::empty()),
    }
}

/// [`children`] for the parser's tests.
#[cfg(test)]
pub(crate) fn children_for_tests(e: &Expr) -> impl Iterator<Item = &Expr> {
    children(e)
}
