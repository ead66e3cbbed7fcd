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
//! # Example: from a URL's query to a bound request
//!
//! A catalog of two entity types, a device and the type it refers to, is enough to bind a
//! request that filters through the navigation property, selects, orders and pages:
//!
//! ```
//! use odata::edm::{EntitySet, EntityType, Model, NavigationProperty, PrimitiveType, Property};
//! use odata::read::ReadQuery;
//! use odata::syntax::parse_query_options;
//!
//! let property = |name: &str, ty| Property { name: name.into(), ty, nullable: true };
//! let model = Model {
//!     namespace: "Example".into(),
//!     container: "Service".into(),
//!     entity_types: vec![
//!         EntityType {
//!             name: "device".into(),
//!             key: vec!["deviceKey".into()],
//!             properties: vec![
//!                 property("deviceKey", PrimitiveType::Int32),
//!                 property("deviceName", PrimitiveType::String),
//!                 property("deviceTypeKey", PrimitiveType::Int32),
//!             ],
//!             navigation: vec![NavigationProperty {
//!                 name: "deviceType".into(),
//!                 target_type: "deviceType".into(),
//!                 nullable: true,
//!                 property: "deviceTypeKey".into(),
//!                 referenced_property: "deviceTypeKey".into(),
//!                 collection: false,
//!                 partner: None,
//!             }],
//!         },
//!         EntityType {
//!             name: "deviceType".into(),
//!             key: vec!["deviceTypeKey".into()],
//!             properties: vec![
//!                 property("deviceTypeKey", PrimitiveType::Int32),
//!                 property("deviceTypeName", PrimitiveType::String),
//!             ],
//!             navigation: Vec::new(),
//!         },
//!     ],
//!     entity_sets: vec![EntitySet {
//!         name: "devices".into(),
//!         entity_type: 0,
//!         navigation_bindings: Vec::new(),
//!         temporal: None,
//!     }],
//! };
//! let devices = model.type_of(&model.entity_sets[0]);
//!
//! // 1. parse: syntax only, no model
//! let options = parse_query_options(
//!     "$filter=deviceType/deviceTypeName eq 'Windows'&$select=deviceName&$orderby=deviceName desc&$top=10",
//! )
//! .unwrap();
//! // 2. bind: names resolved and types checked against the catalog, into one owned request
//! let read = ReadQuery::bind(&options, "devices", devices, &model)
//!     .unwrap()
//!     .with_paging(&options)
//!     .unwrap();
//! assert_eq!(read.select, vec![1]); // deviceName
//! assert_eq!(read.paging.top, Some(10));
//! assert_eq!(read.orderby.len(), 1);
//! let filter = read.filter.as_ref().unwrap();
//! assert!(!filter.mentions_property(2)); // it reads deviceType's name, not the device's column
//!
//! // errors say which option is wrong and where in its text
//! let options = parse_query_options("$filter=deviceName eq 42").unwrap();
//! let error = ReadQuery::bind(&options, "devices", devices, &model).unwrap_err();
//! assert_eq!(error.target.as_deref(), Some("$filter"));
//! assert_eq!(error.position, Some(14)); // at `42`, which is no string
//! ```
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
pub mod value;

pub use error::{ErrorKind, ODataError};
