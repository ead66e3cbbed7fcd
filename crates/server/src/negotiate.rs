//! Content negotiation: `$format`, `Accept` (with q-values and OData parameters) and the
//! `IEEE754Compatible` and `odata.metadata` parameters.

use odata::json::MetadataLevel;
use odata::{ErrorKind, ODataError};

/// How a JSON payload is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonFormat {
    /// `odata.metadata`.
    pub metadata: MetadataLevel,
    /// `IEEE754Compatible=true`: Int64 and Decimal as strings.
    pub ieee754: bool,
}

impl JsonFormat {
    /// The `Content-Type` value of payloads in this format.
    pub fn content_type(&self) -> String {
        let level = match self.metadata {
            MetadataLevel::None => "none",
            MetadataLevel::Minimal => "minimal",
            MetadataLevel::Full => "full",
        };
        format!(
            "application/json;odata.metadata={level};odata.streaming=true;IEEE754Compatible={};charset=utf-8",
            self.ieee754
        )
    }
}

/// Representation of `$metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataFormat {
    /// CSDL XML.
    Xml,
    /// CSDL JSON.
    Json,
}

struct MediaRange<'a> {
    essence: String,
    params: Vec<(String, &'a str)>,
    q: f32,
}

fn parse_ranges(value: &str) -> Vec<MediaRange<'_>> {
    value
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let essence = pieces.next()?.trim().to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let mut q = 1.0;
            let mut params = Vec::new();
            for p in pieces {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim().trim_matches('"');
                if k == "q" {
                    q = v.parse().unwrap_or(0.0);
                } else {
                    params.push((k, v));
                }
            }
            Some(MediaRange { essence, params, q })
        })
        .collect()
}

fn json_from_params(params: &[(String, &str)]) -> Result<JsonFormat, ODataError> {
    let mut f = JsonFormat {
        metadata: MetadataLevel::Minimal,
        ieee754: false,
    };
    for (k, v) in params {
        match k.as_str() {
            "odata.metadata" | "metadata" => {
                f.metadata = match v.to_ascii_lowercase().as_str() {
                    "minimal" => MetadataLevel::Minimal,
                    "full" => MetadataLevel::Full,
                    "none" => MetadataLevel::None,
                    _ => {
                        return Err(ODataError::new(
                            ErrorKind::NotAcceptable,
                            format!(
                                "odata.metadata={v} is not supported; use minimal, full or none"
                            ),
                        ))
                    }
                }
            }
            "odata" => {
                f.metadata = match v.to_ascii_lowercase().as_str() {
                    "fullmetadata" => MetadataLevel::Full,
                    "nometadata" => MetadataLevel::None,
                    _ => MetadataLevel::Minimal,
                }
            }
            "ieee754compatible" => f.ieee754 = v.eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    Ok(f)
}

fn is_json(essence: &str) -> bool {
    matches!(
        essence,
        "application/json" | "application/*" | "*/*" | "json"
    )
}

/// Chooses the JSON format for data responses from `$format` (wins) or `Accept`.
pub fn json_format(
    format_option: Option<&str>,
    accept: Option<&str>,
) -> Result<JsonFormat, ODataError> {
    if let Some(f) = format_option {
        let ranges = parse_ranges(f);
        return match ranges.first() {
            Some(r) if r.essence == "json" || r.essence == "application/json" => json_from_params(&r.params),
            _ => Err(ODataError::new(
                ErrorKind::NotAcceptable,
                format!("$format={f} is not supported; this service answers with JSON (use $format=json)"),
            )
            .with_target("$format")),
        };
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return json_from_params(&[]);
    };
    let mut ranges = parse_ranges(accept);
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
    for r in ranges.iter().filter(|r| r.q > 0.0) {
        if is_json(&r.essence) {
            return json_from_params(&r.params);
        }
    }
    Err(ODataError::new(
        ErrorKind::NotAcceptable,
        format!("None of the media types in Accept ({accept}) can be produced; this service answers with application/json"),
    ))
}

/// Chooses the `$metadata` representation: XML unless JSON is asked for.
pub fn metadata_format(
    format_option: Option<&str>,
    accept: Option<&str>,
) -> Result<MetadataFormat, ODataError> {
    if let Some(f) = format_option {
        let essence = parse_ranges(f)
            .first()
            .map(|r| r.essence.clone())
            .unwrap_or_default();
        return match essence.as_str() {
            "json" | "application/json" => Ok(MetadataFormat::Json),
            "xml" | "application/xml" => Ok(MetadataFormat::Xml),
            _ => Err(ODataError::new(
                ErrorKind::NotAcceptable,
                format!("$format={f} is not supported for $metadata; use xml or json"),
            )
            .with_target("$format")),
        };
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(MetadataFormat::Xml);
    };
    let mut ranges = parse_ranges(accept);
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
    for r in ranges.iter().filter(|r| r.q > 0.0) {
        match r.essence.as_str() {
            "application/xml" | "text/xml" | "*/*" | "application/*" => {
                return Ok(MetadataFormat::Xml)
            }
            "application/json" => return Ok(MetadataFormat::Json),
            _ => {}
        }
    }
    Err(ODataError::new(
        ErrorKind::NotAcceptable,
        "$metadata is available as application/xml or application/json",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_bi_accept_gives_json() {
        let a = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";
        assert_eq!(
            json_format(None, Some(a)).unwrap().metadata,
            MetadataLevel::Minimal
        );
        assert_eq!(
            json_format(None, Some("application/xml")).unwrap_err().kind,
            ErrorKind::NotAcceptable
        );
        let f = json_format(
            Some("application/json;odata.metadata=full;IEEE754Compatible=true"),
            None,
        )
        .unwrap();
        assert!(f.ieee754 && f.metadata == MetadataLevel::Full);
        assert_eq!(
            json_format(None, Some("application/json;q=0, text/html"))
                .unwrap_err()
                .kind,
            ErrorKind::NotAcceptable
        );
        assert_eq!(
            metadata_format(None, Some("application/json")).unwrap(),
            MetadataFormat::Json
        );
        assert_eq!(metadata_format(None, None).unwrap(), MetadataFormat::Xml);
    }
}
