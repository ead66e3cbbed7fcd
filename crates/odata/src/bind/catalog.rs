//! What the binder asks of a data model ([`Catalog`]).

use crate::edm::{EntityType, Model, TemporalSupport};

/// The entity types a binder can reach from the one it binds against: where navigation
/// properties lead (`deviceType/deviceTypeName`, `$expand=deviceType`, lambdas). A [`Model`] is
/// one; the rows an aggregating `$apply` returns are another
/// ([`super::AggregatedType`]). The binder
/// never reads a global model, so it binds against any catalog a caller gives it.
pub trait Catalog: Sync {
    /// The entity type named `name` (unqualified), if this catalog has it.
    fn entity_type(&self, name: &str) -> Option<&EntityType>;

    /// The entity set whose entities are of type `type_name`, if this catalog has one.
    fn entity_set_of(&self, type_name: &str) -> Option<&str>;

    /// How entity set `set` keeps its history (read as of a point in time, `$at`, or over a
    /// period, `$from`/`$to`); none when it does not.
    fn temporal(&self, _set: &str) -> Option<&TemporalSupport> {
        None
    }
}

impl Catalog for Model {
    fn entity_type(&self, name: &str) -> Option<&EntityType> {
        self.entity_types.iter().find(|t| t.name == name)
    }

    fn entity_set_of(&self, type_name: &str) -> Option<&str> {
        self.entity_sets
            .iter()
            .find(|s| self.type_of(s).name == type_name)
            .map(|s| s.name.as_str())
    }

    fn temporal(&self, set: &str) -> Option<&TemporalSupport> {
        self.entity_set(set)?.temporal.as_ref()
    }
}
