//! The one place a [`Dialect`] turns the SQL tree into text: identifiers quoted, parameters
//! numbered in the order they appear and collected beside the text, database-specific forms
//! written by the dialect from their rendered operands.

use super::dialect::Dialect;
use super::tree::{Column, Join, OrderItem, Select, Source, SqlExpr};
use super::value::SqlValue;
use odata::bind::CompareOp;

/// Renders trees for `dialect`, collecting the parameters of everything rendered.
pub struct Render<'d> {
    dialect: &'d dyn Dialect,
    /// The parameters, in placeholder order.
    pub params: Vec<SqlValue>,
}

impl<'d> Render<'d> {
    /// A renderer with no parameters yet.
    pub fn new(dialect: &'d dyn Dialect) -> Self {
        Render {
            dialect,
            params: Vec::new(),
        }
    }

    /// A whole statement, and its parameters.
    pub fn statement(dialect: &'d dyn Dialect, select: &Select) -> (String, Vec<SqlValue>) {
        let mut r = Render::new(dialect);
        let sql = r.select(select);
        (sql, r.params)
    }

    fn param(&mut self, v: &SqlValue) -> String {
        let p = self.dialect.placeholder(self.params.len() + 1, v);
        self.params.push(v.clone());
        p
    }

    /// `SELECT ... FROM ... [LEFT JOIN ...] [WHERE ...] [GROUP BY ...] [ORDER BY ...] [LIMIT]`.
    pub fn select(&mut self, s: &Select) -> String {
        let columns: Vec<String> = s.columns.iter().map(|c| self.column(c)).collect();
        let mut sql = format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            self.source(&s.from)
        );
        for j in &s.joins {
            sql.push_str(&self.join(j));
        }
        if !s.conditions.is_empty() {
            let conditions = self.all(&s.conditions);
            sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        if !s.group_by.is_empty() {
            let groups = self.all(&s.group_by);
            sql.push_str(&format!(" GROUP BY {}", groups.join(", ")));
        }
        if !s.order_by.is_empty() {
            let order = self.order(&s.order_by);
            sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
        }
        let limit = s.limit.as_ref().map(|v| self.param(v));
        let offset = s.offset.as_ref().map(|v| self.param(v));
        sql.push_str(
            &self
                .dialect
                .limit_offset(limit.as_deref(), offset.as_deref()),
        );
        sql
    }

    fn column(&mut self, c: &Column) -> String {
        let sql = self.expr(&c.expr);
        match &c.alias {
            Some(a) => format!("{sql} AS {}", self.dialect.quote(a)),
            None => sql,
        }
    }

    fn source(&mut self, from: &Source) -> String {
        match from {
            Source::Table { name, alias: None } => self.dialect.quote(name),
            Source::Table {
                name,
                alias: Some(a),
            } => format!("{} AS {a}", self.dialect.quote(name)),
            Source::Derived { select, alias } => format!("({}) AS {alias}", self.select(select)),
        }
    }

    fn join(&mut self, j: &Join) -> String {
        let source = self.source(&j.source);
        let on = self.all(&j.on);
        format!(" LEFT JOIN {source} ON {}", on.join(" AND "))
    }

    fn all(&mut self, exprs: &[SqlExpr]) -> Vec<String> {
        exprs.iter().map(|e| self.expr(e)).collect()
    }

    fn order(&mut self, items: &[OrderItem]) -> Vec<String> {
        items
            .iter()
            .map(|o| {
                let sql = self.expr(&o.expr);
                format!("{sql} {}", self.dialect.order(o.descending, o.nullable))
            })
            .collect()
    }

    /// An expression.
    pub fn expr(&mut self, e: &SqlExpr) -> String {
        let d = self.dialect;
        match e {
            SqlExpr::Column { table: None, name } => d.quote(name),
            SqlExpr::Column {
                table: Some(t),
                name,
            } => format!("{t}.{}", d.quote(name)),
            SqlExpr::Param(v) => self.param(v),
            SqlExpr::Null => "NULL".into(),
            SqlExpr::Integer(i) => i.to_string(),
            SqlExpr::AllColumns => "*".into(),
            SqlExpr::Row(items) => format!("({})", self.all(items).join(", ")),
            SqlExpr::Bool(b) => d.boolean(*b).into(),
            SqlExpr::Not(x) => format!("(NOT {})", self.expr(x)),
            SqlExpr::Negate(x) => format!("(- {})", self.expr(x)),
            SqlExpr::And(a, b) => format!("({} AND {})", self.expr(a), self.expr(b)),
            SqlExpr::Or(a, b) => format!("({} OR {})", self.expr(a), self.expr(b)),
            SqlExpr::Compare(op, a, b) => {
                format!("({} {} {})", self.expr(a), symbol(*op), self.expr(b))
            }
            SqlExpr::IsNull { expr, negated } => {
                let not = if *negated { "NOT " } else { "" };
                format!("({} IS {not}NULL)", self.expr(expr))
            }
            SqlExpr::NullSafeEqual { a, b, negated } => {
                let (a, b) = (self.expr(a), self.expr(b));
                d.null_safe_equal(&a, &b, *negated)
            }
            SqlExpr::FalseWhenNull(x) => {
                let x = self.expr(x);
                d.false_when_null(&x)
            }
            SqlExpr::Coalesce(a, b) => format!("COALESCE({}, {})", self.expr(a), self.expr(b)),
            SqlExpr::In(x, items) => {
                let x = self.expr(x);
                format!("({x} IN ({}))", self.all(items).join(", "))
            }
            SqlExpr::Function(f, args) => {
                let args: Vec<_> = args.iter().map(|(a, ty)| (self.expr(a), *ty)).collect();
                d.function(*f, &args)
            }
            SqlExpr::Arith(op, a, b, ty) => {
                let (a, b) = (self.expr(a), self.expr(b));
                d.arithmetic(*op, &a, &b, *ty)
            }
            SqlExpr::Cast(x, from, to) => {
                let x = self.expr(x);
                d.cast(&x, *from, *to)
            }
            SqlExpr::PrefixRange { column, low, high } => {
                let column = self.expr(column);
                let low = self.expr(low);
                let high = high.as_ref().map(|h| self.expr(h));
                d.prefix_range(&column, &low, high.as_deref())
            }
            SqlExpr::Aggregate(method, value, ty) => {
                let value = value.as_ref().map(|v| self.expr(v));
                d.aggregate(*method, value.as_deref(), *ty)
            }
            SqlExpr::CountRows => "COUNT(*)".into(),
            SqlExpr::SumOfCounts(x) => {
                format!("CAST(COALESCE(SUM({}), 0) AS BIGINT)", self.expr(x))
            }
            SqlExpr::SumBefore(x, order) => {
                let x = self.expr(x);
                let order = self.order(order);
                let order = if order.is_empty() {
                    String::new()
                } else {
                    format!("ORDER BY {} ", order.join(", "))
                };
                format!("SUM({x}) OVER ({order}ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)")
            }
            SqlExpr::SumOfAll(x) => format!("SUM({}) OVER ()", self.expr(x)),
            SqlExpr::JsonRow(cells) => {
                let cells: Vec<_> = cells.iter().map(|(c, ty)| (self.expr(c), *ty)).collect();
                d.json_row(&cells)
            }
            SqlExpr::JsonRows(row, order) => {
                let row = self.expr(row);
                let order = self.order(order);
                d.json_rows(&row, &order)
            }
            SqlExpr::Subquery(s) => format!("({})", self.select(s)),
            SqlExpr::Exists { select, negated } => {
                let not = if *negated { "NOT " } else { "" };
                format!("{not}EXISTS ({})", self.select(select))
            }
            SqlExpr::Percent(a, b) => format!("{} * {} / 100.0", self.expr(a), self.expr(b)),
        }
    }
}

fn symbol(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
    }
}
