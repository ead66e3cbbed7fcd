//! Validators (ETags) and conditional requests (`If-None-Match`).
//!
//! What the warehouse serves of a tenant changes only when a day is published, so the tenant's
//! publication (its generation and when it was published) is the version of every entity it
//! serves: each entity's `@odata.etag`, and the `ETag` of a response reading one entity. A
//! response reading a collection or a count adds the request (path, options, the headers that
//! choose the representation) and the build (a new build may answer differently). `$metadata`,
//! the service document and `openapi.json` carry a digest of their bytes. A request whose
//! options read the clock (`now()`) has no ETag: its answer changes without a publication.

use super::context::{header_str, RequestContext};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use warehouse::Tenant;

/// The version of every entity the tenant serves: `W/"{generation}-{published}"`.
pub(super) fn publication(tenant: &Tenant) -> String {
    format!(
        "W/\"{}-{}\"",
        tenant.generation,
        tenant.published_at.unwrap_or(0)
    )
}

/// The ETag of a response to `ctx` reading one entity (`entity`) or a collection or count
/// (not `entity`), as of `tenant`'s publication; none when the request reads the clock.
pub(super) fn of_data(ctx: &RequestContext, tenant: &Tenant, entity: bool) -> Option<String> {
    if reads_clock(&ctx.raw_query) {
        return None;
    }
    if entity {
        return Some(publication(tenant));
    }
    let mut request = Sha256::new();
    for part in [
        env!("CARGO_PKG_VERSION"),
        ctx.version.as_str(),
        &ctx.path,
        &ctx.raw_query,
        header_str(&ctx.headers, "accept").unwrap_or(""),
        header_str(&ctx.headers, "prefer").unwrap_or(""),
    ] {
        request.update(part.as_bytes());
        request.update([0]);
    }
    Some(format!(
        "W/\"{}-{}-{}\"",
        tenant.generation,
        tenant.published_at.unwrap_or(0),
        hex(&request.finalize()[..8])
    ))
}

/// The strong ETag of a document served as `body` whatever the tenant's data (`$metadata`, the
/// service document, `openapi.json`).
pub(super) fn of_document(body: &[u8]) -> String {
    format!("\"{}\"", hex(&Sha256::digest(body)[..12]))
}

/// Whether the options of a raw query mention `now()`, whose value is the time of the request.
/// A string literal holding `now(` counts too: the response only loses its ETag.
fn reads_clock(raw_query: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(raw_query).decode_utf8_lossy();
    decoded.to_ascii_lowercase().contains("now(")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the request's `If-None-Match` names `tag` (weak comparison, RFC 9110 13.1.2): the
/// client already holds the representation. `*` ("any representation") is not taken: whether
/// one exists is known only by reading, and a 404 must stay a 404.
pub(super) fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    let opaque = |t: &str| t.trim_start_matches("W/").to_string();
    let wanted = opaque(tag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|value| entity_tags(value).any(|given| opaque(given) == wanted))
}

/// The entity tags of an `If-None-Match` value: `W/"a", "b"`.
fn entity_tags(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = value;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let start = rest.find('"')?;
        let end = start + 1 + rest[start + 1..].find('"')?;
        let tag = &rest[..=end];
        rest = &rest[end + 1..];
        Some(tag)
    })
}

/// `304 Not Modified` for a client holding `tag`: no body, the validator and its caching.
pub(super) fn not_modified(tag: &str) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    set(&mut r, tag);
    r
}

/// Gives a successful response its `ETag`, and asks clients to revalidate before reusing it
/// (`private, no-cache`: it was read with a token).
pub(super) fn set(response: &mut Response, tag: &str) {
    if !matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) {
        return;
    }
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, value);
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn if_none_match_compares_weakly_and_reads_lists() {
        let tag = "W/\"7-1700000000\"";
        assert!(none_match(&headers("W/\"7-1700000000\""), tag));
        assert!(none_match(&headers("\"7-1700000000\""), tag));
        assert!(none_match(&headers("\"x\", W/\"7-1700000000\""), tag));
        assert!(!none_match(&headers("*"), tag));
        assert!(!none_match(&headers("W/\"8-1700000000\""), tag));
        assert!(!none_match(&headers("W/\"7-1700000000"), tag));
        assert!(!none_match(&HeaderMap::new(), tag));
    }

    #[test]
    fn the_clock_is_found_in_encoded_options() {
        assert!(reads_clock("$filter=lastSyncDateTime%20gt%20NOW()"));
        assert!(!reads_clock("$filter=deviceName%20eq%20'now'"));
    }
}
