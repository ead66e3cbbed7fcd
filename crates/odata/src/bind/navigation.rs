//! Paths through navigation properties in expressions: a property of a related entity, lambdas
//! over a collection-valued navigation property, and its `$count`.

use super::expr::filter;
use super::names::{bad, navigation, property, unsupported};
use super::scope::{Binder, Scope};
use super::typed::{typed, Typed, TypedKind};
use crate::edm::{EntityType, PrimitiveType};
use crate::syntax::{Expr, Span};
use crate::{ErrorKind, ODataError};

impl<'a> Binder<'a, '_> {
    /// The collection-valued navigation property `path` names, and the type it leads to.
    pub(super) fn collection_navigation(
        &self,
        path: &[String],
        span: Span,
    ) -> Result<(usize, &'a EntityType), ODataError> {
        if self.lambda.is_some() {
            return Err(unsupported(
                span,
                "collections inside a lambda predicate are not supported",
            ));
        }
        let Some(catalog) = self.catalog else {
            return Err(unsupported(
                span,
                "navigation properties in expressions are not supported here",
            ));
        };
        let n = match path {
            [name] => navigation(self.ty, name, span)?,
            _ => None,
        };
        let Some(n) = n.filter(|&n| self.ty.navigation[n].collection) else {
            return Err(bad(
                span,
                format!(
                    "'{}' is not a collection-valued navigation property of {}",
                    path.join("/"),
                    self.ty.name
                ),
            ));
        };
        let target = catalog
            .entity_type(&self.ty.navigation[n].target_type)
            .ok_or_else(|| {
                ODataError::new(
                    ErrorKind::Internal,
                    format!(
                        "navigation target {} is missing",
                        self.ty.navigation[n].target_type
                    ),
                )
            })?;
        Ok((n, target))
    }

    /// `path/any(v: predicate)` or `path/all(v: predicate)`.
    pub(super) fn lambda(
        &self,
        path: &[String],
        all: bool,
        predicate: Option<&(String, Expr)>,
        span: Span,
    ) -> Result<Typed, ODataError> {
        let (navigation, element) = self.collection_navigation(path, span)?;
        let predicate = match predicate {
            None => None,
            Some((variable, body)) => {
                let inner = Scope {
                    ty: self.ty,
                    catalog: self.catalog,
                    computed: self.computed,
                    lambda: Some((variable.as_str(), element)),
                    inlined: self.inlined.clone(),
                };
                Some(Box::new(filter(body, inner)?))
            }
        };
        Ok(typed(
            TypedKind::Lambda {
                navigation,
                all,
                predicate,
            },
            PrimitiveType::Boolean,
            false,
        ))
    }
    /// A path through the navigation property `n`: one property of the entity it leads to.
    pub(super) fn related(
        &self,
        n: usize,
        segments: &[String],
        span: Span,
    ) -> Result<Typed, ODataError> {
        let Some(catalog) = self.catalog else {
            return Err(unsupported(
                span,
                "navigation properties in expressions are not supported here",
            ));
        };
        let nav = &self.ty.navigation[n];
        if nav.collection {
            return Err(bad(
                span,
                format!(
                    "'{}' is a collection of {}: use {}/any(...), {}/all(...) or {}/$count",
                    nav.name, nav.target_type, nav.name, nav.name, nav.name
                ),
            ));
        }
        if segments.len() != 2 {
            return Err(unsupported(
                span,
                format!(
                    "'{}': only one property of {} can be reached (navigation/property)",
                    segments.join("/"),
                    nav.name
                ),
            ));
        }
        let target = catalog.entity_type(&nav.target_type).ok_or_else(|| {
            ODataError::new(
                ErrorKind::Internal,
                format!("navigation target {} is missing", nav.target_type),
            )
        })?;
        let i = property(target, &segments[1], span)?;
        let p = &target.properties[i];
        // null when the reference is null or leads nowhere
        Ok(typed(
            TypedKind::Related {
                navigation: n,
                property: i,
            },
            p.ty,
            true,
        ))
    }
}
