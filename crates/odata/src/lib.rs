//! OData v4 building blocks, free of storage and HTTP.
//!
//! The crate follows the path of one request through three separate representations, each in its
//! own module, so every layer can be tested (and reused) without the others:
//!
//! * [`syntax`]: model-free parsing of query options into a syntax tree. Errors carry the byte
//!   offset where the input stops matching the OData ABNF, so clients get a precise position.
//! * [`bind`]: resolves names and checks types of a syntax tree against an [`edm`] entity type,
//!   producing a typed tree that planners (SQL or otherwise) consume without re-checking.
//! * [`read`]: a whole read request's options bound at once, against a [`bind::Catalog`], into
//!   one owned [`read::ReadQuery`]: the single description a planner receives.
//! * [`csdl`] and [`json`]: writers for `$metadata` (CSDL XML and JSON) and for OData JSON payloads.
//!   The payload writer appends straight into a byte buffer so a server can stream rows without
//!   building intermediate documents.
//!
//! Why hand-written: a recursive-descent parser gives the best error offsets, and the OData
//! grammar is small enough that a combinator crate would add weight without removing much code.
#![deny(missing_docs)]

pub mod bind;
pub mod csdl;
pub mod edm;
pub mod error;
pub mod json;
pub mod openapi;
pub mod read;
pub mod syntax;

pub use error::{ErrorKind, ODataError};
