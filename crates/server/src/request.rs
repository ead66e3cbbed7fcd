//! Resource paths under the service root.

use odata::ODataError;
use percent_encoding::percent_decode_str;

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The service document.
    ServiceDocument,
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

/// Parses the path below the service root (percent-encoded, as in the URL).
pub fn parse(rest: &str) -> Result<Resource, ODataError> {
    let decoded = percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| ODataError::bad_request("The path is not valid UTF-8.").with_target("path"))?;
    let path = decoded.trim_start_matches('/');
    if path.is_empty() {
        return Ok(Resource::ServiceDocument);
    }
    if path == "$metadata" {
        return Ok(Resource::Metadata);
    }
    let (head, tail) = match path.find('(') {
        Some(open) => {
            let close = path.rfind(')').filter(|c| *c > open).ok_or_else(|| {
                ODataError::bad_request("The key predicate is missing its ')'.")
                    .with_target("path")
                    .at(open)
            })?;
            let key = path[open + 1..close].to_string();
            let after = &path[close + 1..];
            let set = path[..open].to_string();
            if set.contains('/') {
                return Err(not_found(path));
            }
            let segments: Vec<&str> = after.split('/').filter(|s| !s.is_empty()).collect();
            return match segments.as_slice() {
                [] => Ok(Resource::Entity {
                    set,
                    key,
                    property: None,
                    raw: false,
                }),
                [p] => Ok(Resource::Entity {
                    set,
                    key,
                    property: Some(p.to_string()),
                    raw: false,
                }),
                [p, "$value"] => Ok(Resource::Entity {
                    set,
                    key,
                    property: Some(p.to_string()),
                    raw: true,
                }),
                _ => Ok(Resource::Deeper {
                    set,
                    key,
                    segments: segments.iter().map(|s| s.to_string()).collect(),
                }),
            };
        }
        None => match path.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (path, None),
        },
    };
    match tail {
        None | Some("") => Ok(Resource::Collection(head.to_string())),
        Some("$count") => Ok(Resource::Count(head.to_string())),
        Some(_) => Err(not_found(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse("").unwrap(), Resource::ServiceDocument);
        assert_eq!(parse("/$metadata").unwrap(), Resource::Metadata);
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
        assert!(parse("/devices(1").is_err());
    }
}
