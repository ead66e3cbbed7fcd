//! Visiting a bound expression tree: depth first, with a visit that can skip what is below a
//! node ([`Recursion::Jump`]) or end the walk ([`Recursion::Stop`]), so a question answered at
//! the first match (does it read this property?) does not go through the rest of the tree; and
//! rewriting one, bottom up ([`Typed::transform`]), as [`Typed::simplified`] does.
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
use crate::value::Value;

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

impl Typed {
    /// This expression rewritten bottom up: each node's operands first, then the node itself,
    /// by `rewrite` (which returns the node as it is to keep it).
    pub fn transform(self, rewrite: &mut impl FnMut(Typed) -> Typed) -> Typed {
        let mut t = |x: Box<Typed>| Box::new(x.transform(rewrite));
        let kind = match self.kind {
            TypedKind::Lambda {
                navigation,
                all,
                predicate,
            } => TypedKind::Lambda {
                navigation,
                all,
                predicate: predicate.map(&mut t),
            },
            TypedKind::Not(x) => TypedKind::Not(t(x)),
            TypedKind::Negate(x) => TypedKind::Negate(t(x)),
            TypedKind::Cast(x, to) => TypedKind::Cast(t(x), to),
            TypedKind::And(a, b) => TypedKind::And(t(a), t(b)),
            TypedKind::Or(a, b) => TypedKind::Or(t(a), t(b)),
            TypedKind::Compare(op, a, b) => TypedKind::Compare(op, t(a), t(b)),
            TypedKind::Arith(op, a, b) => TypedKind::Arith(op, t(a), t(b)),
            TypedKind::In(x, list) => TypedKind::In(
                t(x),
                list.into_iter().map(|i| i.transform(rewrite)).collect(),
            ),
            TypedKind::Call(f, args) => {
                TypedKind::Call(f, args.into_iter().map(|a| a.transform(rewrite)).collect())
            }
            leaf => leaf,
        };
        rewrite(Typed { kind, ..self })
    }

    /// This condition with the identities of OData's three-valued logic applied where an
    /// operand is a Boolean constant: `x and true` is `x`, `x and false` is false, `x or false`
    /// is `x`, `x or true` is true, `not true` is false (each holds for a null `x` too), so a
    /// client's `... and true` costs the store nothing.
    pub fn simplified(self) -> Typed {
        self.transform(&mut |node| {
            let constant = |t: &Typed| match t.kind {
                TypedKind::Literal(Value::Boolean(b)) => Some(b),
                _ => None,
            };
            let boolean = |b: bool| Typed {
                kind: TypedKind::Literal(Value::Boolean(b)),
                ty: node.ty,
                nullable: false,
            };
            match &node.kind {
                TypedKind::And(a, b) => match (constant(a), constant(b)) {
                    (Some(false), _) | (_, Some(false)) => boolean(false),
                    (Some(true), _) => (**b).clone(),
                    (_, Some(true)) => (**a).clone(),
                    _ => node,
                },
                TypedKind::Or(a, b) => match (constant(a), constant(b)) {
                    (Some(true), _) | (_, Some(true)) => boolean(true),
                    (Some(false), _) => (**b).clone(),
                    (_, Some(false)) => (**a).clone(),
                    _ => node,
                },
                TypedKind::Not(x) => match constant(x) {
                    Some(v) => boolean(!v),
                    None => node,
                },
                _ => node,
            }
        })
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

    #[test]
    fn a_rewrite_folds_boolean_constants_bottom_up_and_keeps_the_rest() {
        let ty = entity();
        let bind = |f: &str| {
            crate::bind::bind_filter(&crate::syntax::parse_filter(f).unwrap(), &ty).unwrap()
        };
        // bind_filter simplifies: the constants are gone at every depth
        assert_eq!(bind("deviceKey eq 1 and true"), bind("deviceKey eq 1"));
        assert_eq!(
            bind("(osVersion eq '2' or false) and (true and deviceKey eq 1)"),
            bind("osVersion eq '2' and deviceKey eq 1")
        );
        assert_eq!(
            bind("deviceKey eq 1 and not true").kind,
            TypedKind::Literal(Value::Boolean(false))
        );
        assert_eq!(
            bind("deviceKey eq 1 or (osVersion eq '2' or true)").kind,
            TypedKind::Literal(Value::Boolean(true))
        );
        // a rewrite that changes nothing gives the same tree back
        let t = bind("deviceKey eq 1 or osVersion gt '2'");
        assert_eq!(t.clone().transform(&mut |n| n), t);
        // and one that does reaches every node, operands before their operator
        let mut seen = Vec::new();
        bind("deviceKey eq 1 or osVersion gt '2'").transform(&mut |n| {
            seen.push(n.node_count());
            n
        });
        assert_eq!(seen, vec![1, 1, 3, 1, 1, 3, 7]);
    }
}
