//! OData JSON payload writing straight into a byte buffer.
//!
//! Servers stream entity collections: the [`EntityWriter`] is prepared once per request (property
//! names pre-escaped, types resolved) and then appends one entity per row from borrowed cells,
//! so the hot path allocates nothing per row.

mod entity;
mod value;

pub use entity::{EntityWriter, ExpandedCollection, RelatedLink};
pub use value::{
    key_literal, write_double, write_integer, write_string, write_timestamp, write_value,
    MetadataLevel,
};
