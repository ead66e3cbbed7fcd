//! Bound expressions ([`Typed`]) as SQL expressions ([`SqlExpr`]): columns of the rows in scope
//! (or of the collections joined to them, or of a lambda's variable, or of aggregated rows),
//! parameters for constants, correlated subqueries for lambdas and counts of related entities,
//! and the two-valued forms OData's comparisons need.

use super::joins::{target_collection, Joined};
use super::query::TENANT_COLUMN;
use super::tree::{Column, Select, Source, SqlExpr};
use super::value::SqlValue;
use crate::model::Collection;
use odata::bind::{AggregatedType, CompareOp, Function, Typed, TypedKind, Value};
use odata::edm::{EntityType, PrimitiveType};

/// What the names of expressions stand for while they are built: the entity type of the rows
/// (and their alias when the statement names tables), the joined collections, aggregated rows'
/// columns, a lambda's variable; and the count of subqueries, which gives each its own alias.
pub(super) struct Scope<'a> {
    /// The entity type of the rows.
    pub(super) entity: &'a EntityType,
    /// Value of `now()`, in microseconds since the Unix epoch.
    pub(super) now_micros: i64,
    /// The tenant the statement reads.
    pub(super) tenant: i64,
    /// The rows' table alias when the statement names tables.
    pub(super) alias: Option<String>,
    /// The joined collections.
    pub(super) joins: Vec<Joined<'a>>,
    /// Set for expressions on aggregated rows: properties are their values' columns.
    pub(super) aggregated: Option<&'a AggregatedType>,
    /// Set inside a lambda predicate: the alias and collection of its variable.
    element: Option<(String, &'static Collection)>,
    /// Subqueries built so far in the statement.
    pub(super) subqueries: usize,
}

impl<'a> Scope<'a> {
    /// The rows of `entity` of a tenant (with `now()`), as `alias` when the statement names
    /// tables, joined to `joins`.
    pub(super) fn new(
        entity: &'a EntityType,
        (now_micros, tenant): (i64, i64),
        alias: Option<String>,
        joins: Vec<Joined<'a>>,
    ) -> Self {
        Scope {
            entity,
            now_micros,
            tenant,
            alias,
            joins,
            aggregated: None,
            element: None,
            subqueries: 0,
        }
    }

    /// A scope for a subquery over the rows of `entity` as `alias`, joined to `joins`, whose
    /// subqueries are numbered after this one's (give the numbering back with
    /// [`Scope::resume`]).
    pub(super) fn subquery(
        &mut self,
        entity: &'a EntityType,
        alias: String,
        joins: Vec<Joined<'a>>,
    ) -> Scope<'a> {
        Scope {
            subqueries: self.subqueries,
            ..Scope::new(entity, (self.now_micros, self.tenant), Some(alias), joins)
        }
    }

    /// Takes back the subquery numbering of a finished [`Scope::subquery`].
    pub(super) fn resume(&mut self, sub: Scope<'a>) {
        self.subqueries = sub.subqueries;
    }

    /// The column of an aggregated row holding value `v`.
    pub(super) fn value_column(v: usize) -> SqlExpr {
        SqlExpr::column(None, &format!("c{v}"))
    }

    /// Property `index` of the rows.
    pub(super) fn column(&self, index: usize) -> SqlExpr {
        if let Some(a) = self.aggregated {
            return Self::value_column(a.values[index]);
        }
        SqlExpr::column(self.alias.as_deref(), &self.entity.properties[index].name)
    }

    fn value(v: &Value) -> SqlExpr {
        match v {
            Value::Null => SqlExpr::Null,
            Value::Boolean(b) => SqlExpr::Bool(*b),
            other => SqlExpr::Param(super::query::sql_value(other)),
        }
    }

    /// The SQL of bound expression `t`.
    pub(super) fn expr(&mut self, t: &Typed) -> SqlExpr {
        match &t.kind {
            TypedKind::Literal(v) => Self::value(v),
            TypedKind::Property(i) => self.column(*i),
            TypedKind::Related {
                navigation,
                property,
            } => self.related(*navigation, *property),
            TypedKind::Element(p) => {
                let (alias, collection) = self.element.as_ref().expect("inside a lambda");
                SqlExpr::column(Some(alias), &collection.properties[*p].name)
            }
            TypedKind::Lambda {
                navigation,
                all,
                predicate,
            } => self.lambda(*navigation, *all, predicate.as_deref()),
            TypedKind::NavigationCount(navigation) => {
                let select = self.correlated(*navigation, SqlExpr::CountRows);
                SqlExpr::Subquery(Box::new(select))
            }
            TypedKind::Now => SqlExpr::Param(SqlValue::Timestamp(self.now_micros)),
            TypedKind::Not(x) => SqlExpr::Not(Box::new(self.expr(x))),
            TypedKind::Negate(x) => SqlExpr::Negate(Box::new(self.expr(x))),
            TypedKind::And(a, b) => SqlExpr::and(self.expr(a), self.expr(b)),
            TypedKind::Or(a, b) => SqlExpr::Or(Box::new(self.expr(a)), Box::new(self.expr(b))),
            TypedKind::Compare(op, a, b) => self.compare(*op, a, b),
            TypedKind::Arith(op, a, b) => SqlExpr::Arith(
                *op,
                Box::new(self.expr(a)),
                Box::new(self.expr(b)),
                t.ty.unwrap_or(PrimitiveType::Int32),
            ),
            TypedKind::In(x, list) => self.within(x, list),
            TypedKind::Call(f, args) => {
                let built = args.iter().map(|a| (self.expr(a), a.ty)).collect();
                let call = SqlExpr::Function(*f, built);
                match (f, &args[..]) {
                    (Function::StartsWith, [column, prefix]) => {
                        self.with_prefix_range(call, column, prefix)
                    }
                    _ => call,
                }
            }
            TypedKind::Cast(x, to) => SqlExpr::Cast(Box::new(self.expr(x)), x.ty, *to),
        }
    }

    /// Property `property` of the entity navigation property `navigation` leads to: its column
    /// in the joined collection, or in the aggregated row.
    fn related(&self, navigation: usize, property: usize) -> SqlExpr {
        if let Some(a) = self.aggregated {
            return Self::value_column(a.nested_values[navigation][property]);
        }
        let join = self
            .joins
            .iter()
            .find(|j| j.parent.is_none() && j.filter.is_none() && j.navigation == navigation)
            .expect("every navigation reached is joined");
        SqlExpr::column(Some(&join.alias), &join.target.properties[property].name)
    }

    /// `x in (list)`, two-valued: a null operand is in the list when the list has null.
    fn within(&mut self, x: &Typed, list: &[Typed]) -> SqlExpr {
        let sx = self.expr(x);
        let has_null = list.iter().any(|i| i.ty.is_none());
        let items: Vec<SqlExpr> = list
            .iter()
            .filter(|i| i.ty.is_some())
            .map(|i| self.expr(i))
            .collect();
        let empty = items.is_empty();
        let mut sql = if empty {
            SqlExpr::Bool(false)
        } else {
            SqlExpr::In(Box::new(sx.clone()), items)
        };
        if x.nullable && !repeatable(x) {
            // the operand named once
            return match (empty, has_null) {
                (true, true) => SqlExpr::is_null(sx, false),
                (true, false) => sql,
                (false, _) => SqlExpr::Coalesce(Box::new(sql), Box::new(SqlExpr::Bool(has_null))),
            };
        }
        if x.nullable {
            // two-valued, and still a condition an index answers
            sql = SqlExpr::and(sql, SqlExpr::is_null(sx.clone(), true));
            if has_null {
                sql = SqlExpr::Or(Box::new(sql), Box::new(SqlExpr::is_null(sx, false)));
            }
        }
        sql
    }

    /// `EXISTS` (`any`) or `NOT EXISTS` of the entities of a collection-valued navigation
    /// property that meet (`any`) or fail (`all`) the predicate.
    fn lambda(&mut self, navigation: usize, all: bool, predicate: Option<&Typed>) -> SqlExpr {
        let mut select = self.correlated(navigation, SqlExpr::Integer(1));
        let alias = format!("l{}", self.subqueries);
        let outer = self
            .element
            .replace((alias, target_collection(self.entity, navigation)));
        let condition = predicate.map(|p| {
            let sql = self.expr(p);
            if p.nullable {
                SqlExpr::FalseWhenNull(Box::new(sql))
            } else {
                sql
            }
        });
        self.element = outer;
        match (all, condition) {
            (false, None) => {}
            (false, Some(c)) => select.conditions.push(c),
            (true, None) => return SqlExpr::Bool(true),
            (true, Some(c)) => {
                select.conditions.push(SqlExpr::Not(Box::new(c)));
                return SqlExpr::Exists {
                    select: Box::new(select),
                    negated: true,
                };
            }
        }
        SqlExpr::Exists {
            select: Box::new(select),
            negated: false,
        }
    }

    /// The next subquery, selecting `column` from the collection a collection-valued navigation
    /// property leads to, correlated with the current row (same tenant, reference = key).
    fn correlated(&mut self, navigation: usize, column: SqlExpr) -> Select {
        self.subqueries += 1;
        let alias = format!("l{}", self.subqueries);
        let nav = &self.entity.navigation[navigation];
        let target = target_collection(self.entity, navigation);
        let key = self
            .entity
            .property_index(&nav.property)
            .expect("collection navigation properties name the key");
        let outer_alias = self
            .alias
            .as_deref()
            .expect("correlated subqueries need the row's alias");
        let mut select = Select::new(
            vec![Column::from(column)],
            Source::Table {
                name: target.name.clone(),
                alias: Some(alias.clone()),
            },
        );
        select.conditions = vec![
            SqlExpr::compare(
                CompareOp::Eq,
                SqlExpr::column(Some(&alias), TENANT_COLUMN),
                SqlExpr::column(Some(outer_alias), TENANT_COLUMN),
            ),
            SqlExpr::compare(
                CompareOp::Eq,
                SqlExpr::column(Some(&alias), &nav.referenced_property),
                self.column(key),
            ),
        ];
        select
    }

    /// `startswith(column, 'literal')` with a range on the column beside it, which an index on
    /// the column answers (the call itself still decides).
    fn with_prefix_range(&mut self, call: SqlExpr, column: &Typed, prefix: &Typed) -> SqlExpr {
        let (TypedKind::Property(_), TypedKind::Literal(Value::String(p))) =
            (&column.kind, &prefix.kind)
        else {
            return call;
        };
        if p.is_empty() {
            return call;
        }
        let range = SqlExpr::PrefixRange {
            column: Box::new(self.expr(column)),
            low: Box::new(SqlExpr::Param(SqlValue::Text(p.clone()))),
            high: prefix_successor(p).map(|h| Box::new(SqlExpr::Param(SqlValue::Text(h)))),
        };
        SqlExpr::and(range, call)
    }

    fn compare(&mut self, op: CompareOp, a: &Typed, b: &Typed) -> SqlExpr {
        let (a_null, b_null) = (a.ty.is_none(), b.ty.is_none());
        if a_null || b_null {
            let other = if a_null { b } else { a };
            return match (op, a_null && b_null) {
                (CompareOp::Eq, true) => SqlExpr::Bool(true),
                (CompareOp::Ne, true) => SqlExpr::Bool(false),
                (CompareOp::Eq, false) => SqlExpr::is_null(self.expr(other), false),
                (CompareOp::Ne, false) => SqlExpr::is_null(self.expr(other), true),
                _ => SqlExpr::Bool(false),
            };
        }
        let (sa, sb) = (self.expr(a), self.expr(b));
        let nullable = a.nullable || b.nullable;
        // A nullable operand beside a constant: two-valued forms an index answers (`IS NOT
        // DISTINCT FROM` and `COALESCE(...)` hide the column from the planner).
        let constant = |t: &Typed| matches!(t.kind, TypedKind::Literal(_) | TypedKind::Now);
        let operand_repeatable = if constant(a) {
            repeatable(b)
        } else {
            repeatable(a)
        };
        if nullable && (constant(a) || constant(b)) && operand_repeatable {
            let operand = if constant(a) { sb.clone() } else { sa.clone() };
            let compared = SqlExpr::compare(op, sa, sb);
            return if op == CompareOp::Ne {
                SqlExpr::Or(
                    Box::new(compared),
                    Box::new(SqlExpr::is_null(operand, false)),
                )
            } else {
                SqlExpr::and(compared, SqlExpr::is_null(operand, true))
            };
        }
        if nullable && matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return SqlExpr::NullSafeEqual {
                a: Box::new(sa),
                b: Box::new(sb),
                negated: op == CompareOp::Ne,
            };
        }
        let sql = SqlExpr::compare(op, sa, sb);
        if nullable {
            SqlExpr::FalseWhenNull(Box::new(sql))
        } else {
            sql
        }
    }
}

/// Whether `t` is built as a column or a parameter, which SQL may name more than once at a
/// constant cost. Anything else is named once: a form that repeated a nested expression would
/// multiply the statement's size at each level of nesting.
fn repeatable(t: &Typed) -> bool {
    matches!(
        t.kind,
        TypedKind::Literal(_)
            | TypedKind::Property(_)
            | TypedKind::Related { .. }
            | TypedKind::Element(_)
            | TypedKind::Now
    )
}

/// The least string, in code point order, above every string that starts with `prefix`: the
/// prefix with its last character replaced by the next one (dropping trailing characters that
/// have no next one); `None` when every character is the last code point.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn the_successor_of_a_prefix_bounds_every_string_that_starts_with_it() {
        assert_eq!(prefix_successor("DESKTOP-").as_deref(), Some("DESKTOP."));
        assert_eq!(prefix_successor("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_successor("é").as_deref(), Some("ê"));
        // surrogates are not characters: U+D7FF is followed by U+E000
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        for s in ["DESKTOP-1", "DESKTOP-\u{10FFFF}zz", "DESKTOP-"] {
            assert!(s < prefix_successor("DESKTOP-").unwrap().as_str(), "{s}");
        }
    }
}
