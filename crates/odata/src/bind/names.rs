//! Names looked up in an entity type, and the binder's errors: positioned at the part of the
//! text they are about.

use crate::edm::{EntityType, Lookup};
use crate::syntax::Span;
use crate::{ErrorKind, ODataError};

/// An error of `kind` at `span`.
pub(super) fn err(span: Span, kind: ErrorKind, message: impl Into<String>) -> ODataError {
    ODataError::new(kind, message).at(span.start)
}

/// A 400 at `span`.
pub(super) fn bad(span: Span, message: impl Into<String>) -> ODataError {
    err(span, ErrorKind::BadRequest, message)
}

/// A 501 at `span`: valid OData this service does not implement.
pub(super) fn unsupported(span: Span, message: impl Into<String>) -> ODataError {
    err(span, ErrorKind::NotImplemented, message)
}

/// The property `name` of `ty` (exactly, else ignoring case when only one fits).
pub(super) fn property(ty: &EntityType, name: &str, span: Span) -> Result<usize, ODataError> {
    match ty.find_property(name) {
        Lookup::Found(i) => Ok(i),
        Lookup::Missing => Err(bad(
            span,
            format!("'{name}' is not a property of {}", ty.name),
        )),
        Lookup::Ambiguous(candidates) => Err(ambiguous(span, name, &candidates)),
    }
}

/// The navigation property `name` of `ty`, if it names one (an ambiguous name is an error).
pub(super) fn navigation(
    ty: &EntityType,
    name: &str,
    span: Span,
) -> Result<Option<usize>, ODataError> {
    match ty.find_navigation(name) {
        Lookup::Found(i) => Ok(Some(i)),
        Lookup::Missing => Ok(None),
        Lookup::Ambiguous(candidates) => Err(ambiguous(span, name, &candidates)),
    }
}

/// The error for a name that matches several, ignoring case.
pub(super) fn ambiguous(span: Span, name: &str, candidates: &[&str]) -> ODataError {
    bad(
        span,
        format!(
            "'{name}' matches {} when case is ignored; write one of them exactly",
            candidates
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    )
}
