//! Map: a snapshot's records, read, become the warehouse's values. `core` validates and converts
//! devices, users and categories, which every merge builds on; `values` holds the conversions
//! every source uses. Each other source maps its own records in its part ([`crate::sources`]).

pub(crate) mod core;
pub(crate) mod values;
