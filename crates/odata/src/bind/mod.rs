//! Binding: resolves a syntax tree against an entity type and checks its types, producing a
//! [`Typed`] tree that planners consume without any further checks.
//!
//! Semantics follow OData 4.01: numeric operands are promoted (Int32 < Int64 < Decimal < Double),
//! an `Edm.Date` literal compared with a date-time is taken as midnight UTC, and every comparison
//! is two-valued (`null eq null` is true, `null gt 1` is false) while functions of null are null.
//! Errors are 400s pointing at the offending sub-expression; valid OData the service does not
//! implement (spatial values, lambdas inside lambdas, paths of more than one navigation step) is
//! 501. Parameter aliases are replaced by their values ([`crate::syntax::Aliases::resolve`])
//! before binding. Paths through navigation properties (a related entity's property, lambdas and
//! `$count` over collections) bind in `navigation`, `$search` in `search`, `$apply` in `apply`.

mod apply;
mod catalog;
mod expand;
mod expr;
mod functions;
mod names;
mod navigation;
mod scope;
mod search;
mod select;
mod temporal;
mod typed;
mod visit;

pub use crate::value::Value;
pub use apply::{
    bind_apply, AggregateMethod, AggregatedType, Aggregation, BoundAggregate, BoundApply, Share,
    Stage, APPLY_TRANSFORMATIONS,
};
pub use catalog::Catalog;
pub use expand::{bind_expand, BoundExpand, RelatedRows, MAX_EXPANDED_ENTITIES};
pub use expr::{bind_filter, bind_orderby};
pub use scope::{Computed, Scope};
pub use search::bind_search;
pub use select::{bind_key, bind_select, bind_select_with_computed};
pub use temporal::{bind_temporal, Temporal};
pub use typed::{ArithOp, BoundOrder, CompareOp, Function, Typed, TypedKind};
pub use visit::Recursion;
