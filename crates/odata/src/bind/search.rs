//! Binding `$search`: a term matches an entity when one of its string properties contains it,
//! ignoring the case of ASCII letters (on SQLite other letters match as written; PostgreSQL
//! ignores the case of every letter); a phrase is one term, blanks included. `NOT`, `AND` and `OR` combine the matches (two-valued: an
//! entity whose searched properties are all null matches no term).

use super::typed::{typed, CompareOp, Function, Typed, TypedKind};
use crate::edm::{EntityType, PrimitiveType};
use crate::syntax::SearchExpr;
use crate::value::Value;

/// Binds a search expression over the string properties of `ty` into a Boolean condition.
pub fn bind_search(expr: &SearchExpr, ty: &EntityType) -> Typed {
    let boolean = |kind| typed(kind, PrimitiveType::Boolean, false);
    match expr {
        SearchExpr::Term(term) => {
            let pattern = like_pattern(term);
            let tests = ty
                .properties
                .iter()
                .enumerate()
                .filter(|(_, p)| p.ty == PrimitiveType::String)
                .map(|(i, p)| {
                    let matches = typed(
                        TypedKind::Call(
                            Function::SearchLike,
                            vec![
                                typed(TypedKind::Property(i), PrimitiveType::String, p.nullable),
                                typed(
                                    TypedKind::Literal(Value::String(pattern.clone())),
                                    PrimitiveType::String,
                                    false,
                                ),
                            ],
                        ),
                        PrimitiveType::Boolean,
                        p.nullable,
                    );
                    let yes = typed(
                        TypedKind::Literal(Value::Boolean(true)),
                        PrimitiveType::Boolean,
                        false,
                    );
                    boolean(TypedKind::Compare(
                        CompareOp::Eq,
                        Box::new(matches),
                        Box::new(yes),
                    ))
                });
            tests
                .reduce(|a, b| boolean(TypedKind::Or(Box::new(a), Box::new(b))))
                .unwrap_or_else(|| boolean(TypedKind::Literal(Value::Boolean(false))))
        }
        SearchExpr::Not(x) => boolean(TypedKind::Not(Box::new(bind_search(x, ty)))),
        SearchExpr::And(a, b) => boolean(TypedKind::And(
            Box::new(bind_search(a, ty)),
            Box::new(bind_search(b, ty)),
        )),
        SearchExpr::Or(a, b) => boolean(TypedKind::Or(
            Box::new(bind_search(a, ty)),
            Box::new(bind_search(b, ty)),
        )),
    }
}

/// `%term%` with ASCII letters lowered and `\`, `%` and `_` escaped by `\`.
fn like_pattern(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c.to_ascii_lowercase());
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_like_wildcards() {
        assert_eq!(like_pattern("Desk_TOP%1\\É"), "%desk\\_top\\%1\\\\É%");
    }
}
