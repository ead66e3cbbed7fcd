//! Binding `$apply` (OData Data Aggregation Extension 4.0) against an entity type.
//!
//! What binds is the shape planners push down to one SQL statement: filters and computed
//! properties on the collection's rows (computed ones can be grouped by and aggregated), at most
//! one aggregation (`groupby` with an `aggregate`, or `aggregate` alone), then
//! stages of `filter`, `orderby`, `skip` and `top` (and `topcount`, `bottomcount`, `topsum`,
//! `bottomsum`, `toppercent`, `bottompercent`) on the aggregated rows. The aggregated rows have a type of their own, [`AggregatedType`]: the grouping
//! properties (a path through a navigation property becomes a nested object, as the standard
//! writes it) and the aggregates by alias; the query options that follow `$apply` bind against it.
//! Valid constructs outside that shape are 501s naming the construct.
//!
//! Result types: `$count` and `countdistinct` are `Edm.Int64`; `sum` of an integer is
//! `Edm.Int64`, of a decimal `Edm.Decimal`, of a double `Edm.Double`; `average` is `Edm.Double`
//! (`Edm.Decimal` for a decimal); `min` and `max` keep the aggregated value's type.

use super::catalog::Catalog;
use super::expr::orderby;
use super::names::{bad, unsupported};
use super::scope::Binder;
use super::typed::{BoundOrder, Typed, TypedKind};
use crate::edm::{EntityType, NavigationProperty, PrimitiveType, Property};
use crate::syntax::limits::MAX_APPLY_STAGES;
use crate::syntax::{
    AggregateExpr, Direction, Expr, ExprKind, Literal, OrderByItem, SelectItem, Span, TopKind,
    Transformation, TransformationKind,
};
use crate::value::Value;
use crate::ODataError;

/// The transformations [`bind_apply`] accepts, as `$metadata`'s `Aggregation.ApplySupported`
/// annotation announces them.
pub const APPLY_TRANSFORMATIONS: &[&str] = &[
    "aggregate",
    "groupby",
    "filter",
    "orderby",
    "skip",
    "top",
    "topcount",
    "bottomcount",
    "topsum",
    "bottomsum",
    "toppercent",
    "bottompercent",
    "compute",
    "search",
    "identity",
];

/// A bound `$apply`.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundApply {
    /// Conditions on the collection's rows (every `filter` before the aggregation), all of which
    /// a row must meet.
    pub filters: Vec<Typed>,
    /// The aggregation, if there is one; without it the result is the collection's entities.
    pub aggregation: Option<Aggregation>,
}

/// Grouping and aggregating the filtered rows, and what is done with the aggregated rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    /// The grouping values, bound against the collection's type (properties, or properties of
    /// the entity a navigation property leads to); empty for `aggregate` alone (one row).
    pub group_by: Vec<Typed>,
    /// The aggregates, in the order written.
    pub aggregates: Vec<BoundAggregate>,
    /// The type of the aggregated rows.
    pub result: AggregatedType,
    /// What a response carries of them: `result`, or the part `$select` chose
    /// ([`AggregatedType::selected`]).
    pub output: AggregatedType,
    /// What follows the aggregation, in order; each stage works on the rows of the one before.
    pub stages: Vec<Stage>,
}

/// One aggregate value.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundAggregate {
    /// How values are aggregated.
    pub method: AggregateMethod,
    /// The aggregated value (`None` for `$count`).
    pub value: Option<Typed>,
    /// The result's type.
    pub ty: PrimitiveType,
}

/// The standard aggregation methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateMethod {
    /// `$count`: the number of rows.
    Count,
    /// `sum`
    Sum,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `average`
    Average,
    /// `countdistinct`: the number of distinct non-null values.
    CountDistinct,
}

/// Filtering, ordering and slicing aggregated rows, in this order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stage {
    /// Conditions on the aggregated rows (bound against [`AggregatedType::entity`]).
    pub filters: Vec<Typed>,
    /// The rows' order (ties are broken by the grouping values).
    pub orderby: Vec<BoundOrder>,
    /// Rows to skip.
    pub skip: Option<u64>,
    /// Most rows to keep.
    pub top: Option<u64>,
    /// `topsum`, `bottomsum`, `toppercent`, `bottompercent`: the rows a share of a total takes,
    /// ranked by `orderby` (a stage of its own).
    pub share: Option<Share>,
}

/// The fewest rows, highest (or lowest) values first, whose values add up to `amount` (or to
/// `amount` percent of all of them); rows whose value is null take no part.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// The value ranked and added up.
    pub value: Typed,
    /// The sum, or the percentage of the total, to reach.
    pub amount: f64,
    /// `amount` is a percentage of the total.
    pub percent: bool,
}

/// The type of aggregated rows, and which value each of its properties holds.
///
/// An aggregated row's values are the grouping values, then the aggregates (value `v` is
/// `group_by[v]` or `aggregates[v - group_by.len()]`); the top-level properties of
/// [`AggregatedType::entity`] are the grouping properties of the collection itself and the
/// aggregates, and each of its navigation properties leads to one of
/// [`AggregatedType::nested`], holding the grouping properties reached through it.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregatedType {
    /// The aggregated rows' type (no key: aggregated entities are transient).
    pub entity: EntityType,
    /// The types of the nested objects, one per navigation property of `entity`.
    pub nested: Vec<EntityType>,
    /// The value of each property of `entity`.
    pub values: Vec<usize>,
    /// The value of each property of each nested type.
    pub nested_values: Vec<Vec<usize>>,
}

impl AggregatedType {
    /// The value an expression bound against [`AggregatedType::entity`] reads, when it is a
    /// property or a nested property.
    pub fn value(&self, t: &Typed) -> Option<usize> {
        match t.kind {
            TypedKind::Property(p) => Some(self.values[p]),
            TypedKind::Related {
                navigation,
                property,
            } => Some(self.nested_values[navigation][property]),
            _ => None,
        }
    }

    /// The part of this type `$select` chooses: properties and nested objects by name, nested
    /// properties by path (`deviceType/deviceTypeName`), `*` for all, in declaration order.
    /// Only for writing rows: expressions bind against the whole type.
    pub fn selected(&self, items: &[SelectItem]) -> Result<AggregatedType, ODataError> {
        let mut properties = vec![false; self.entity.properties.len()];
        let mut nested: Vec<Vec<bool>> = self
            .nested
            .iter()
            .map(|t| vec![false; t.properties.len()])
            .collect();
        for item in items {
            let (path, span) = match item {
                SelectItem::Star => return Ok(self.clone()),
                SelectItem::Path(path, span) => (path, *span),
            };
            let navigation = super::names::navigation(&self.entity, &path[0], span)?;
            match (navigation, &path[1..]) {
                (None, []) => {
                    properties[super::names::property(&self.entity, &path[0], span)?] = true
                }
                (Some(n), []) => nested[n].iter_mut().for_each(|p| *p = true),
                (Some(n), [name]) => {
                    nested[n][super::names::property(&self.nested[n], name, span)?] = true
                }
                _ => {
                    return Err(bad(
                        span,
                        format!("'{}' is not a value of the aggregated rows", path.join("/")),
                    ))
                }
            }
        }
        let keep = |all: &[Property], chosen: &[bool]| -> Vec<Property> {
            all.iter()
                .zip(chosen)
                .filter(|(_, c)| **c)
                .map(|(p, _)| p.clone())
                .collect()
        };
        let pick = |values: &[usize], chosen: &[bool]| -> Vec<usize> {
            values
                .iter()
                .zip(chosen)
                .filter_map(|(v, c)| c.then_some(*v))
                .collect()
        };
        let mut out = AggregatedType {
            entity: EntityType {
                properties: keep(&self.entity.properties, &properties),
                navigation: Vec::new(),
                ..self.entity.clone()
            },
            nested: Vec::new(),
            values: pick(&self.values, &properties),
            nested_values: Vec::new(),
        };
        for (n, chosen) in nested.iter().enumerate() {
            if chosen.iter().any(|c| *c) {
                out.entity
                    .navigation
                    .push(self.entity.navigation[n].clone());
                out.nested.push(EntityType {
                    properties: keep(&self.nested[n].properties, chosen),
                    ..self.nested[n].clone()
                });
                out.nested_values.push(pick(&self.nested_values[n], chosen));
            }
        }
        Ok(out)
    }

    /// The context URL's selection: `deviceType(deviceTypeName),n`.
    pub fn context_selection(&self) -> String {
        let mut parts: Vec<String> = self
            .entity
            .properties
            .iter()
            .map(|p| p.name.clone())
            .collect();
        for (nav, nested) in self.entity.navigation.iter().zip(&self.nested) {
            let inner: Vec<&str> = nested.properties.iter().map(|p| p.name.as_str()).collect();
            parts.push(format!("{}({})", nav.name, inner.join(",")));
        }
        parts.join(",")
    }
}

/// Binds `$apply` transformations against `ty`; `catalog` finds the types navigation
/// properties lead to.
pub fn bind_apply<'a>(
    transformations: &[Transformation],
    ty: &'a EntityType,
    catalog: &'a dyn Catalog,
) -> Result<BoundApply, ODataError> {
    let mut computed: Vec<super::Computed> = Vec::new();
    let mut filters = Vec::new();
    let mut rest = transformations;
    while let Some((t, after)) = rest.split_first() {
        let input = Binder::new(ty, Some(catalog)).with_computed(&computed);
        match &t.kind {
            TransformationKind::Filter(e) => filters.push(super::expr::filter(e, input)?),
            TransformationKind::Compute(items) => {
                let more = input.compute(items)?;
                computed.extend(more);
            }
            TransformationKind::Search(text) => {
                // the text starts after `search(` and the blanks `parse_apply` trimmed
                let start = t.span.start + "search(".len();
                let expr = crate::syntax::parse_search(text).map_err(|e| {
                    bad(
                        Span {
                            start: start + e.offset,
                            end: start + e.offset,
                        },
                        format!("Syntax error in search: {}", e.message),
                    )
                })?;
                filters.push(super::bind_search(&expr, ty));
            }
            TransformationKind::Identity => {}
            TransformationKind::GroupBy { .. } | TransformationKind::Aggregate(_) => break,
            _ => {
                return Err(not_before_aggregation(t));
            }
        }
        rest = after;
    }
    let Some((first, after)) = rest.split_first() else {
        if let Some(c) = computed.first() {
            return Err(unsupported(
                transformations[0].span,
                format!(
                    "compute in $apply is supported before groupby or aggregate; for '{}' without them use $compute",
                    c.name
                ),
            ));
        }
        return Ok(BoundApply {
            filters,
            aggregation: None,
        });
    };
    let input = Binder::new(ty, Some(catalog)).with_computed(&computed);
    let mut aggregation = aggregate(&input, first)?;
    let result = aggregation.result.clone();
    let output = Binder::new(&result.entity, Some(&result));
    let mut stage = Stage::default();
    for t in after {
        stage_transformation(&output, t, &mut stage, &mut aggregation.stages)?;
        if aggregation.stages.len() >= MAX_APPLY_STAGES {
            return Err(bad(
                t.span,
                format!(
                    "$apply has more than {MAX_APPLY_STAGES} stages after its aggregation \
                     (a top or skip followed by more transformations starts one)"
                ),
            ));
        }
    }
    if stage != Stage::default() {
        aggregation.stages.push(stage);
    }
    Ok(BoundApply {
        filters,
        aggregation: Some(aggregation),
    })
}

/// The 501 for a transformation before the aggregation that is not a filter, compute or search.
fn not_before_aggregation(t: &Transformation) -> ODataError {
    let what = match &t.kind {
        TransformationKind::Concat(_) => "concat",
        TransformationKind::OrderBy(_) => "orderby",
        TransformationKind::Top(_) => "top",
        TransformationKind::Skip(_) => "skip",
        _ => "this transformation",
    };
    unsupported(
        t.span,
        format!(
            "{what} is not supported in $apply before groupby or aggregate (filter, compute and search are)"
        ),
    )
}

/// Adds one transformation after the aggregation to `stage`, closing it into `stages` first
/// when the transformation must see its result (a filter after a `top`, a `skip` after a `top`).
fn stage_transformation(
    output: &Binder<'_, '_>,
    t: &Transformation,
    stage: &mut Stage,
    stages: &mut Vec<Stage>,
) -> Result<(), ODataError> {
    let rank = |s: &Stage| {
        if s.top.is_some() {
            3
        } else if s.skip.is_some() {
            2
        } else if !s.orderby.is_empty() {
            1
        } else {
            0
        }
    };
    let mut next = |stage: &mut Stage, at: u8| {
        if rank(stage) > at || (at > 0 && rank(stage) == at) {
            stages.push(std::mem::take(stage));
        }
    };
    match &t.kind {
        TransformationKind::Identity => {}
        TransformationKind::Filter(e) => {
            next(stage, 0);
            stage.filters.push(super::expr::filter(e, output.clone())?);
        }
        TransformationKind::OrderBy(items) => {
            next(stage, 1);
            stage.orderby = orderby(items, output)?;
        }
        TransformationKind::Skip(n) => {
            next(stage, 2);
            stage.skip = Some(*n);
        }
        TransformationKind::Top(n) => {
            next(stage, 3);
            stage.top = Some(*n);
        }
        TransformationKind::Rank {
            kind: kind @ (TopKind::TopCount | TopKind::BottomCount),
            amount,
            value,
        } => {
            let n = match amount.kind {
                ExprKind::Literal(Literal::Value(Value::Integer(n))) if n >= 0 => n as u64,
                _ => return Err(bad(amount.span, "the count must be a non-negative integer")),
            };
            let direction = match kind {
                TopKind::TopCount => Direction::Desc,
                _ => Direction::Asc,
            };
            next(stage, 1);
            stage.orderby = orderby(
                &[OrderByItem {
                    expr: value.clone(),
                    direction,
                }],
                output,
            )?;
            stage.top = Some(n);
        }
        TransformationKind::Rank {
            kind,
            amount,
            value,
        } => {
            let share = share_stage(output, t, *kind, amount, value)?;
            if *stage != Stage::default() {
                stages.push(std::mem::take(stage));
            }
            stages.push(share);
        }
        other => {
            let what = match other {
                TransformationKind::GroupBy { .. } | TransformationKind::Aggregate(_) => {
                    "a second aggregation is"
                }
                TransformationKind::Compute(_) => "compute after an aggregation is",
                TransformationKind::Search(_) => "search after an aggregation is",
                _ => "concat is",
            };
            return Err(unsupported(
                t.span,
                format!("{what} not supported in $apply"),
            ));
        }
    }
    Ok(())
}

/// The stage of `topsum`, `bottomsum`, `toppercent` or `bottompercent` (`kind`) of `value` up to
/// `amount`, bound against the aggregated rows (`output`).
fn share_stage(
    output: &Binder<'_, '_>,
    t: &Transformation,
    kind: TopKind,
    amount: &Expr,
    value: &Expr,
) -> Result<Stage, ODataError> {
    let amount = match &amount.kind {
        ExprKind::Literal(Literal::Value(Value::Integer(n))) => *n as f64,
        ExprKind::Literal(Literal::Value(Value::Decimal(d))) => d.parse().unwrap_or(f64::NAN),
        ExprKind::Literal(Literal::Value(Value::Double(d))) => *d,
        _ => f64::NAN,
    };
    let percent = matches!(kind, TopKind::TopPercent | TopKind::BottomPercent);
    if !amount.is_finite() || amount < 0.0 || (percent && amount > 100.0) {
        return Err(bad(
            t.span,
            "the amount must be a non-negative number (a percentage at most 100)",
        ));
    }
    let direction = match kind {
        TopKind::TopSum | TopKind::TopPercent => Direction::Desc,
        _ => Direction::Asc,
    };
    let ranked = orderby(
        &[OrderByItem {
            expr: value.clone(),
            direction,
        }],
        output,
    )?;
    if !ranked[0].expr.ty.is_some_and(|ty| ty.is_numeric()) {
        return Err(bad(value.span, "the ranked value must be a number"));
    }
    Ok(Stage {
        share: Some(Share {
            value: ranked[0].expr.clone(),
            amount,
            percent,
        }),
        orderby: ranked,
        ..Stage::default()
    })
}

/// Binds `groupby(...)` or `aggregate(...)`.
fn aggregate(input: &Binder<'_, '_>, t: &Transformation) -> Result<Aggregation, ODataError> {
    let (paths, items): (&[Vec<String>], &[crate::syntax::Aggregate]) = match &t.kind {
        TransformationKind::Aggregate(items) => (&[], items),
        TransformationKind::GroupBy { paths, then } => match then.as_slice() {
            [] => (paths, &[]),
            [Transformation {
                kind: TransformationKind::Aggregate(items),
                ..
            }] => (paths, items),
            [other, ..] => {
                return Err(unsupported(
                    other.span,
                    "inside groupby only one aggregate(...) is supported",
                ))
            }
        },
        _ => unreachable!("called for groupby and aggregate"),
    };
    let mut shape = Shape::default();
    let mut group_by = Vec::with_capacity(paths.len());
    for path in paths {
        let expr = Expr {
            kind: crate::syntax::ExprKind::Path(path.clone()),
            span: t.span,
        };
        let bound = input.bind(&expr)?;
        let computed = match &path[..] {
            [name] => input.computed.iter().find(|c| &c.name == name),
            _ => None,
        };
        let (name, nested) = match bound.kind {
            _ if computed.is_some() => (path[0].clone(), None),
            TypedKind::Property(p) => (input.ty.properties[p].name.clone(), None),
            TypedKind::Related {
                navigation,
                property: p,
            } => {
                let nav = &input.ty.navigation[navigation];
                let target = input
                    .catalog
                    .and_then(|c| c.entity_type(&nav.target_type))
                    .expect("bound through a target");
                (target.properties[p].name.clone(), Some(nav.name.clone()))
            }
            _ => unreachable!("a path binds to a property"),
        };
        if !group_by.contains(&bound) {
            shape.add(nested, &name, bound.ty.expect("a property"), bound.nullable);
            group_by.push(bound);
        }
    }
    let mut aggregates = Vec::with_capacity(items.len());
    for item in items {
        let bound = aggregate_item(input, item, t.span)?;
        if shape.has(&item.alias) {
            return Err(bad(
                t.span,
                format!("'{}' names two values of the aggregated rows", item.alias),
            ));
        }
        let nullable = !matches!(
            bound.method,
            AggregateMethod::Count | AggregateMethod::CountDistinct
        );
        shape.add(None, &item.alias, bound.ty, nullable);
        aggregates.push(bound);
    }
    let result = shape.finish(&input.ty.name);
    Ok(Aggregation {
        group_by,
        aggregates,
        output: result.clone(),
        result,
        stages: Vec::new(),
    })
}

/// One aggregate: `$count as n` or `value with method as n`.
fn aggregate_item(
    input: &Binder<'_, '_>,
    item: &crate::syntax::Aggregate,
    span: Span,
) -> Result<BoundAggregate, ODataError> {
    use PrimitiveType as P;
    let (expr, method) = match &item.what {
        AggregateExpr::Count => {
            return Ok(BoundAggregate {
                method: AggregateMethod::Count,
                value: None,
                ty: P::Int64,
            })
        }
        AggregateExpr::With { expr, method } => (expr, method),
    };
    let value = input.bind(expr)?;
    let Some(ty) = value.ty else {
        return Err(bad(expr.span, "cannot aggregate null"));
    };
    let method = match method.as_str() {
        "sum" => AggregateMethod::Sum,
        "min" => AggregateMethod::Min,
        "max" => AggregateMethod::Max,
        "average" => AggregateMethod::Average,
        "countdistinct" => AggregateMethod::CountDistinct,
        other => {
            return Err(unsupported(
                span,
                format!(
                    "aggregation method '{other}' is not supported (sum, min, max, average, countdistinct and $count are)"
                ),
            ))
        }
    };
    let numeric = |name: &str| {
        if ty.is_numeric() {
            Ok(())
        } else {
            Err(bad(
                expr.span,
                format!("{name} needs a numeric value, this one is {ty}"),
            ))
        }
    };
    let result = match method {
        AggregateMethod::Sum => {
            numeric("sum")?;
            match ty {
                P::Decimal | P::Double => ty,
                _ => P::Int64,
            }
        }
        AggregateMethod::Average => {
            numeric("average")?;
            if ty == P::Decimal {
                P::Decimal
            } else {
                P::Double
            }
        }
        AggregateMethod::Min | AggregateMethod::Max if ty == P::Boolean => {
            return Err(bad(
                expr.span,
                "min and max need an ordered value, not a Boolean",
            ))
        }
        AggregateMethod::Min | AggregateMethod::Max => ty,
        AggregateMethod::CountDistinct | AggregateMethod::Count => P::Int64,
    };
    Ok(BoundAggregate {
        method,
        value: Some(value),
        ty: result,
    })
}

/// The aggregated type as it is built: top-level values and nested objects, in column order.
#[derive(Default)]
struct Shape {
    /// (nested object's name or none, property) in column order.
    values: Vec<(Option<String>, Property)>,
}

impl Shape {
    fn add(&mut self, nested: Option<String>, name: &str, ty: PrimitiveType, nullable: bool) {
        self.values.push((
            nested,
            Property {
                name: name.to_string(),
                ty,
                nullable,
            },
        ));
    }

    /// Whether a top-level value or nested object is called `name`.
    fn has(&self, name: &str) -> bool {
        self.values
            .iter()
            .any(|(nested, p)| nested.as_deref().unwrap_or(&p.name) == name)
    }

    fn finish(self, source: &str) -> AggregatedType {
        let mut entity = EntityType {
            name: format!("{source}Aggregated"),
            key: Vec::new(),
            properties: Vec::new(),
            navigation: Vec::new(),
        };
        let (mut nested, mut values, mut nested_values) = (Vec::new(), Vec::new(), Vec::new());
        for (value, (object, property)) in self.values.into_iter().enumerate() {
            let Some(object) = object else {
                entity.properties.push(property);
                values.push(value);
                continue;
            };
            let n = match entity.navigation.iter().position(|n| n.name == object) {
                Some(n) => n,
                None => {
                    entity.navigation.push(NavigationProperty {
                        name: object.clone(),
                        target_type: format!("{source}Aggregated.{object}"),
                        nullable: false,
                        property: String::new(),
                        referenced_property: String::new(),
                        collection: false,
                        partner: None,
                    });
                    nested.push(EntityType {
                        name: format!("{source}Aggregated.{object}"),
                        key: Vec::new(),
                        properties: Vec::new(),
                        navigation: Vec::new(),
                    });
                    nested_values.push(Vec::new());
                    entity.navigation.len() - 1
                }
            };
            nested[n].properties.push(property);
            nested_values[n].push(value);
        }
        AggregatedType {
            entity,
            nested,
            values,
            nested_values,
        }
    }
}
impl Catalog for AggregatedType {
    fn entity_type(&self, name: &str) -> Option<&EntityType> {
        self.nested.iter().find(|t| t.name == name)
    }

    /// None: aggregated rows are transient, in no entity set.
    fn entity_set_of(&self, _: &str) -> Option<&str> {
        None
    }
}
