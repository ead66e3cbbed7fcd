//! What names in an expression resolve against ([`Scope`]), and computed properties.

use super::catalog::Catalog;
use super::names::bad;
use super::typed::Typed;
use crate::edm::EntityType;
use crate::ODataError;
use std::cell::Cell;
use std::rc::Rc;

/// What the names of an expression resolve against: an entity type's properties, paths through
/// its single-valued navigation properties (with `catalog`), and computed properties.
#[derive(Clone)]
pub struct Scope<'a, 'c> {
    /// The entity type whose properties paths name.
    pub ty: &'a EntityType,
    /// Where the types navigation properties lead to are found; without it, navigation paths
    /// are not bound.
    pub catalog: Option<&'a dyn Catalog>,
    /// Computed properties (`$compute`, `compute(...)` in `$apply`), named by their aliases.
    pub computed: &'c [Computed],
    /// Inside a lambda predicate: the variable's name and the type of its entity.
    pub(super) lambda: Option<(&'c str, &'a EntityType)>,
    /// Nodes of computed properties copied into the expressions bound so far, shared by the
    /// scopes made from this one ([`MAX_INLINED_NODES`]).
    pub(super) inlined: Rc<Cell<usize>>,
}

/// Most nodes of computed properties that the expressions bound in one scope may copy in
/// (each use of a computed property's alias is a copy of its expression). Without it, an alias
/// used in every operand, or a chain of `compute` transformations each using the one before
/// twice, would grow the bound expressions, and the statement, exponentially.
pub const MAX_INLINED_NODES: usize = 4 * crate::syntax::limits::MAX_EXPRESSION_NODES;

/// The binder's own name for a [`Scope`].
pub(super) type Binder<'a, 'c> = Scope<'a, 'c>;

/// A computed property: `expr as name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    /// Its alias.
    pub name: String,
    /// Its value, bound against the entity type.
    pub expr: Typed,
}

impl<'a, 'c> Scope<'a, 'c> {
    /// The properties of `ty`, and paths through its navigation properties when `catalog` is
    /// given.
    pub fn new(ty: &'a EntityType, catalog: Option<&'a dyn Catalog>) -> Self {
        Scope {
            ty,
            catalog,
            computed: &[],
            lambda: None,
            inlined: Rc::default(),
        }
    }

    /// This scope with `computed` properties too.
    pub fn with_computed<'d>(self, computed: &'d [Computed]) -> Scope<'a, 'd> {
        Scope {
            ty: self.ty,
            catalog: self.catalog,
            computed,
            lambda: None,
            inlined: self.inlined,
        }
    }

    /// The expression of computed property `c`, used at `span`, counted against
    /// [`MAX_INLINED_NODES`].
    pub(super) fn inline(
        &self,
        c: &Computed,
        span: crate::syntax::Span,
    ) -> Result<Typed, ODataError> {
        let total = self.inlined.get() + c.expr.node_count();
        if total > MAX_INLINED_NODES {
            return Err(bad(
                span,
                format!(
                    "the computed properties used here copy more than {MAX_INLINED_NODES} \
                     operators and operands into the query (each use of '{}' copies its \
                     expression); use them fewer times or simplify them",
                    c.name
                ),
            ));
        }
        self.inlined.set(total);
        Ok(c.expr.clone())
    }
}
