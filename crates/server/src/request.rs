//! Resource paths under the service root.

use odata::syntax::{parse_resource_path, Segment};
use odata::ODataError;
use percent_encoding::percent_decode_str;

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The service document.
    ServiceDocument,
    /// `openapi.json`: the OpenAPI description.
    OpenApi,
    /// `$metadata`.
    Metadata,
    /// A collection.
    Collection(String),
    /// `{collection}/$count`.
    Count(String),
    /// `{collection}({key})`, optionally one property, optionally its raw `$value`.
    Entity {
        /// Entity set.
        set: String,
        /// Text between the parentheses.
        key: String,
        /// A property of the entity.
        property: Option<String>,
        /// `/$value` of that property.
        raw: bool,
    },
    /// `{collection}({key})/{segment}/{segment}...`: more than the single-entity forms above
    /// (a path through navigation properties, which is not served yet, or a mistake).
    Deeper {
        /// Entity set.
        set: String,
        /// Text between the parentheses.
        key: String,
        /// The segments after the key.
        segments: Vec<String>,
    },
}

fn not_found(path: &str) -> ODataError {
    ODataError::not_found(format!("No resource at '{path}'.")).with_target("path")
}

/// Parses the path below the service root (percent-encoded, as in the URL) with the model-free
/// path parser ([`parse_resource_path`]), then tells which of the forms the service serves it
/// is: a path that is not OData is a 400 at its position, valid OData the service does not
/// serve (`$batch`, `$entity`, `$all`, `$crossjoin`) a 501, and any other shape a 404.
pub fn parse(rest: &str) -> Result<Resource, ODataError> {
    let path = rest.trim_start_matches('/');
    // a trailing slash (`.../devices/`, the service root as `.../DataWarehouseFEService/`)
    let path = path.strip_suffix('/').unwrap_or(path);
    if path == "openapi.json" {
        return Ok(Resource::OpenApi);
    }
    let segments = parse_resource_path(path).map_err(|e| {
        ODataError::bad_request(format!("The path is not valid OData: {}.", e.message))
            .with_target("path")
            .at(e.offset)
    })?;
    let kinds: Vec<&Segment> = segments.iter().map(|s| &s.kind).collect();
    let decoded = || percent_decode_str(path).decode_utf8_lossy().into_owned();
    let unsupported = |what: &str| {
        ODataError::not_implemented(format!("{what} is not supported.")).with_target("path")
    };
    match kinds.as_slice() {
        [] => Ok(Resource::ServiceDocument),
        [Segment::Metadata] => Ok(Resource::Metadata),
        [Segment::Name { name, groups }] if groups.is_empty() => {
            Ok(Resource::Collection(name.clone()))
        }
        [Segment::Name { name, groups }, Segment::Count] if groups.is_empty() => {
            Ok(Resource::Count(name.clone()))
        }
        [Segment::Name { name, groups }, rest @ ..] if groups.len() == 1 => {
            let (set, key) = (name.clone(), groups[0].clone());
            let plain = |s: &Segment| match s {
                Segment::Name { name, groups } if groups.is_empty() => Some(name.clone()),
                _ => None,
            };
            match rest {
                [] => Ok(Resource::Entity {
                    set,
                    key,
                    property: None,
                    raw: false,
                }),
                [p] if plain(p).is_some() => Ok(Resource::Entity {
                    set,
                    key,
                    property: plain(p),
                    raw: false,
                }),
                [p, Segment::Value] if plain(p).is_some() => Ok(Resource::Entity {
                    set,
                    key,
                    property: plain(p),
                    raw: true,
                }),
                _ => Ok(Resource::Deeper {
                    set,
                    key,
                    segments: segments[1..]
                        .iter()
                        .map(|s| {
                            let text = &path[s.span.start..s.span.end];
                            percent_decode_str(text).decode_utf8_lossy().into_owned()
                        })
                        .collect(),
                }),
            }
        }
        [Segment::Batch, ..] => Err(unsupported("$batch")),
        [Segment::Entity, ..] => Err(unsupported("$entity (entities by their id)")),
        [Segment::All, ..] => Err(unsupported("$all")),
        [Segment::CrossJoin(_), ..] => Err(unsupported("$crossjoin")),
        _ => Err(not_found(&decoded())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse("").unwrap(), Resource::ServiceDocument);
        assert_eq!(parse("/$metadata").unwrap(), Resource::Metadata);
        assert_eq!(parse("/openapi.json").unwrap(), Resource::OpenApi);
        assert_eq!(
            parse("/devices").unwrap(),
            Resource::Collection("devices".into())
        );
        assert_eq!(
            parse("/devices/$count").unwrap(),
            Resource::Count("devices".into())
        );
        assert_eq!(
            parse("/devicePropertyHistories(dateKey=20261101,deviceKey=7)").unwrap(),
            Resource::Entity {
                set: "devicePropertyHistories".into(),
                key: "dateKey=20261101,deviceKey=7".into(),
                property: None,
                raw: false
            }
        );
        assert_eq!(
            parse("/devices(1)/deviceName/$value").unwrap(),
            Resource::Entity {
                set: "devices".into(),
                key: "1".into(),
                property: Some("deviceName".into()),
                raw: true
            }
        );
        assert_eq!(
            parse("/users('a%27%27b')").unwrap(),
            Resource::Entity {
                set: "users".into(),
                key: "'a''b'".into(),
                property: None,
                raw: false
            }
        );
        assert!(parse("/devices/x/y").is_err());
        assert_eq!(
            parse("/devices(1)/deviceType/deviceTypeName").unwrap(),
            Resource::Deeper {
                set: "devices".into(),
                key: "1".into(),
                segments: vec!["deviceType".into(), "deviceTypeName".into()]
            }
        );
        assert_eq!(parse("/devices(1").unwrap_err().kind.status(), 400);
        assert_eq!(parse("/devices('a/b')").unwrap_err().kind.status(), 400);
        assert_eq!(parse("/$batch").unwrap_err().kind.status(), 501);
        assert_eq!(
            parse("/$crossjoin(devices,users)")
                .unwrap_err()
                .kind
                .status(),
            501
        );
        assert_eq!(
            parse("/devices/").unwrap(),
            Resource::Collection("devices".into())
        );
        assert_eq!(parse("/").unwrap(), Resource::ServiceDocument);
        assert!(matches!(
            parse("/devices(1)/$value").unwrap(),
            Resource::Deeper { .. }
        ));
        assert_eq!(
            parse("/devices(1)/devicePropertyHistories/$count").unwrap(),
            Resource::Deeper {
                set: "devices".into(),
                key: "1".into(),
                segments: vec!["devicePropertyHistories".into(), "$count".into()]
            }
        );
    }
}
