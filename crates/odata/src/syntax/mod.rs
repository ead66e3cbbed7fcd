//! Model-free syntax layer: turns query-option text into syntax trees.
//!
//! Every entry point but the resource path's works on percent-decoded text (servers decode the
//! query first; paths are split before they are decoded) and returns
//! either a tree or a [`SyntaxError`] whose `offset` is the 0-based character position where the
//! text stops matching the grammar of OData 4.01 (the OASIS ABNF construction rules).
//!
//! ```
//! use odata::syntax::{parse_filter, parse_query_options, BinaryOp, ExprKind};
//!
//! let options = parse_query_options("$filter=deviceKey%20gt%2010&api-version=v1.0").unwrap();
//! assert_eq!(options.get("$filter"), Some("deviceKey gt 10"));
//! assert_eq!(options.custom("api-version"), Some("v1.0"));
//! let tree = parse_filter("deviceKey gt 10").unwrap();
//! assert!(matches!(tree.kind, ExprKind::Binary(BinaryOp::Gt, ..)));
//! // where the text stops being OData: the `gt` that has no right operand
//! assert_eq!(parse_filter("deviceKey gt").unwrap_err().offset, 10);
//! ```

mod aliases;
mod apply;
mod ast;
mod cursor;
mod expand;
mod expr;
mod key;
pub mod limits;
mod literal;
mod options;
mod path;
mod search;
mod select;
mod temporal;

pub use aliases::Aliases;
pub use apply::{
    parse_apply, parse_compute, Aggregate, AggregateExpr, TopKind, Transformation,
    TransformationKind,
};
pub use ast::*;
pub use expand::{parse_expand, ExpandItem};
pub use expr::{parse_filter, parse_orderby};
pub use key::{parse_key, KeyValue};
pub use literal::{parse_duration, parse_literal};
pub use options::{parse_count, parse_query_options, parse_top_skip, QueryOption, QueryOptions};
pub use path::{
    parse_identifier, parse_relative_uri, parse_resource_path, parse_uri, PathSegment, RelativeUri,
    Segment,
};
pub use search::{parse_search, SearchExpr};
pub use select::parse_select;
pub use temporal::{parse_temporal, TemporalExpr};

use std::fmt;

/// A syntax error: where the input stops matching, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 0-based character offset of the first character that does not match.
    pub offset: usize,
    /// What was expected or found, for people.
    pub message: String,
}

impl SyntaxError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }

    /// Converts to an [`crate::ODataError`] (400) naming the query option it came from.
    pub fn into_odata(self, option: &str) -> crate::ODataError {
        crate::ODataError::bad_request(format!("Syntax error: {}", self.message))
            .with_target(option)
            .at(self.offset)
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.offset)
    }
}

impl std::error::Error for SyntaxError {}
