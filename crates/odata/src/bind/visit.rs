//! Visiting a bound expression tree: depth first, with a visit that can skip what is below a
//! node ([`Recursion::Jump`]) or end the walk ([`Recursion::Stop`]), so a question answered at
//! the first match (does it read this property?) does not go through the rest of the tree.
//!
//! ```
//! use odata::bind::{bind_filter, Recursion, TypedKind};
//! use odata::edm::{EntityType, PrimitiveType, Property};
//! use odata::syntax::parse_filter;
//!
//! let property = |name: &str| Property { name: name.into(), ty: PrimitiveType::Int32, nullable: false };
//! let ty = EntityType {
//!     name: "device".into(),
//!     key: vec!["a".into()],
//!     properties: vec![property("a"), property("b")],
//!     navigation: Vec::new(),
//! };
//! let filter = bind_filter(&parse_filter("a eq 1 or (b gt 2 and a lt 9)").unwrap(), &ty).unwrap();
//! // the properties read until the first `b`, in the order a depth-first walk meets them
//! let mut seen = Vec::new();
//! filter.apply(&mut |e| match e.kind {
//!     TypedKind::Property(1) => {
//!         seen.push(1);
//!         Recursion::Stop
//!     }
//!     TypedKind::Property(p) => {
//!         seen.push(p);
//!         Recursion::Continue
//!     }
//!     _ => Recursion::Continue,
//! });
//! assert_eq!(seen, vec![0, 1]);
//! ```

use super::typed::{Typed, TypedKind};

/// What [`Typed::apply`] does after visiting a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recursion {
    /// Go on, into the node's operands.
    Continue,
    /// Go on, but not into this node's operands.
    Jump,
    /// End the walk.
    Stop,
}

impl Typed {
    /// The expressions directly inside this one, in order (a lambda's predicate, operands,
    /// arguments, list items).
    pub fn children(&self) -> Vec<&Typed> {
        match &self.kind {
            TypedKind::Literal(_)
            | TypedKind::Property(_)
            | TypedKind::Now
            | TypedKind::Element(_)
            | TypedKind::NavigationCount(_)
            | TypedKind::Related { .. } => Vec::new(),
            TypedKind::Lambda { predicate, .. } => predicate.iter().map(|p| &**p).collect(),
            TypedKind::Not(x) | TypedKind::Negate(x) | TypedKind::Cast(x, _) => vec![x],
            TypedKind::And(a, b)
            | TypedKind::Or(a, b)
            | TypedKind::Compare(_, a, b)
            | TypedKind::Arith(_, a, b) => vec![a, b],
            TypedKind::In(x, list) => std::iter::once(&**x).chain(list).collect(),
            TypedKind::Call(_, args) => args.iter().collect(),
        }
    }

    /// Calls `visit` with this expression, then, as it says, with every expression inside it,
    /// depth first. Returns [`Recursion::Stop`] when a visit stopped the walk.
    pub fn apply<'a>(&'a self, visit: &mut impl FnMut(&'a Typed) -> Recursion) -> Recursion {
        match visit(self) {
            Recursion::Continue => {}
            Recursion::Jump => return Recursion::Continue,
            Recursion::Stop => return Recursion::Stop,
        }
        for child in self.children() {
            if child.apply(visit) == Recursion::Stop {
                return Recursion::Stop;
            }
        }
        Recursion::Continue
    }

    /// Calls `visit` with this expression, then with every expression inside it, depth first
    /// (a caller that looks for something needs no match over every kind of expression).
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Typed)) {
        self.apply(&mut |e| {
            visit(e);
            Recursion::Continue
        });
    }
}

impl Typed {
    /// Whether this expression reads property `index` of the entity (stops at the first).
    pub fn mentions_property(&self, index: usize) -> bool {
        let mut found = false;
        self.apply(&mut |e| match e.kind {
            TypedKind::Property(i) if i == index => {
                found = true;
                Recursion::Stop
            }
            _ => Recursion::Continue,
        });
        found
    }

    /// How many nodes the expression has.
    pub fn node_count(&self) -> usize {
        let mut n = 0;
        self.walk(&mut |_| n += 1);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::{bind_filter, Value};
    use crate::edm::{EntityType, PrimitiveType, Property};
    use crate::syntax::parse_filter;

    fn entity() -> EntityType {
        let property = |name: &str, ty| Property {
            name: name.into(),
            ty,
            nullable: true,
        };
        EntityType {
            name: "device".into(),
            key: vec!["deviceKey".into()],
            properties: vec![
                property("deviceKey", PrimitiveType::Int32),
                property("deviceName", PrimitiveType::String),
                property("osVersion", PrimitiveType::String),
            ],
            navigation: Vec::new(),
        }
    }

    #[test]
    fn a_walk_stops_at_the_first_match_and_jumps_over_what_it_is_told() {
        let ty = entity();
        let f = bind_filter(
            &parse_filter("deviceName eq 'a' or (length(osVersion) gt 2 and deviceKey eq 1)")
                .unwrap(),
            &ty,
        )
        .unwrap();
        let mut all = 0;
        f.walk(&mut |_| all += 1);
        assert_eq!(all, f.node_count());
        // deviceName is the first leaf: the walk ends there
        let mut visited = 0;
        let stopped = f.apply(&mut |e| {
            visited += 1;
            match e.kind {
                TypedKind::Property(1) => Recursion::Stop,
                _ => Recursion::Continue,
            }
        });
        assert_eq!(stopped, Recursion::Stop);
        assert!(visited < all, "{visited} of {all}");
        assert!(f.mentions_property(2) && !f.mentions_property(5));
        // not into calls: osVersion is only inside length(...)
        let mut outside_calls = Vec::new();
        f.apply(&mut |e| match &e.kind {
            TypedKind::Call(..) => Recursion::Jump,
            TypedKind::Property(i) => {
                outside_calls.push(*i);
                Recursion::Continue
            }
            _ => Recursion::Continue,
        });
        assert_eq!(outside_calls, [1, 0]);
        let literals = f
            .children()
            .iter()
            .flat_map(|c| c.children())
            .filter(|c| matches!(c.kind, TypedKind::Literal(Value::String(_))))
            .count();
        assert_eq!(literals, 1);
    }
}
