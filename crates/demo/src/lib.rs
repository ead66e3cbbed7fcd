//! Demo data for Device Warehouse: a generated tenant written straight into a store
//! ([`generate()`]: every collection of the model, days of history, consistent facts), and Graph
//! snapshot folders of a synthetic tenant for ingestion ([`snapshot`]). Neither the server nor
//! ingestion depends on this crate; the command line and the tests do.
#![deny(missing_docs)]

pub mod generate;
pub mod snapshot;

pub use generate::{generate, GenerateOptions, Summary};
