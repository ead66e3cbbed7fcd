//! Cross-cutting request handling: request ids, `OData-Version`, `OData-MaxVersion`, and one
//! structured log line per request.

use crate::authn::AuditSlot;
use crate::stream::Streamed;
use crate::ApiError;
use auth::log_safe;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use odata::{ErrorKind, ODataError};
use std::time::Instant;

/// The id of the current request, available to handlers as an extension.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn max_version_too_low(value: &str) -> bool {
    let mut parts = value.trim().split('.');
    let major: u32 = parts
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(4);
    major < 4
}

/// Whether `host` is a `Host` header RFC 9110 allows: a host name (letters, digits, `-`, `.`, and
/// `_` as container names have it), an IPv4 address or a bracketed IPv6 address, with an optional
/// port up to 65535. It names the service in `@odata.context` and next links when no public URL
/// is set, so nothing else may pass (`evil.example?`, quotes, `@`, `#`).
pub fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port))
            if !name.ends_with(':') && (name.starts_with('[') || !name.contains(':')) =>
        {
            (name, Some(port))
        }
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n <= 65535)
    });
    let name_ok = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        }
    };
    port_ok && name_ok
}

/// Requests refused before anything else looks at them: a target longer than
/// [`crate::MAX_URL_BYTES`] (414), headers larger than [`crate::MAX_HEADER_BYTES`] (431), more
/// than one `Authorization` or `Host` header (400: which one counts would be a guess), and a
/// `Host` that is not a host ([`valid_host`]).
fn refuse_oversized_or_ambiguous(req: &Request) -> Option<ODataError> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > crate::MAX_URL_BYTES {
        return Some(
            ODataError::new(
                ErrorKind::UriTooLong,
                format!(
                    "The URL is {target} bytes long; the limit is {} bytes.",
                    crate::MAX_URL_BYTES
                ),
            )
            .with_target("URL"),
        );
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > crate::MAX_HEADER_BYTES {
        return Some(
            ODataError::new(
                ErrorKind::HeadersTooLarge,
                format!(
                    "The request headers are {headers} bytes; the limit is {} bytes.",
                    crate::MAX_HEADER_BYTES
                ),
            )
            .with_target("headers"),
        );
    }
    if req
        .headers()
        .get_all(axum::http::header::AUTHORIZATION)
        .iter()
        .count()
        > 1
    {
        return Some(
            ODataError::bad_request("The request has more than one Authorization header.")
                .with_target("Authorization"),
        );
    }
    let mut hosts = req.headers().get_all(axum::http::header::HOST).iter();
    let (host, more) = (hosts.next(), hosts.next());
    if more.is_some() {
        return Some(
            ODataError::bad_request("The request has more than one Host header.")
                .with_target("Host"),
        );
    }
    if host.is_some_and(|h| !h.to_str().is_ok_and(valid_host)) {
        return Some(
            ODataError::bad_request(
                "The Host header is not a host name or address with an optional port.",
            )
            .with_target("Host"),
        );
    }
    None
}

/// Adds `OData-Version`, `request-id` and the echoed `client-request-id` to every response,
/// refuses clients that cannot read OData 4.0, and logs the request.
pub async fn odata_headers(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .filter(|v| v.len() <= 200)
        .cloned();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let api_version = api_version_label(req.uri().query().unwrap_or(""));
    let collection = collection_label(&path);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let audit = AuditSlot::default();
    req.extensions_mut().insert(audit.clone());
    let too_low = req
        .headers()
        .get("odata-maxversion")
        .and_then(|v| v.to_str().ok())
        .is_some_and(max_version_too_low);
    let refused = refuse_oversized_or_ambiguous(&req);
    let mut resp = if let Some(e) = refused {
        let limit = e.target.clone().unwrap_or_default();
        metrics::counter!("dw_requests_refused_total", "limit" => limit).increment(1);
        ApiError(e).into_response()
    } else if too_low {
        ApiError(
            ODataError::new(
                ErrorKind::BadRequest,
                "This service speaks OData 4.0; OData-MaxVersion must be 4.0 or higher.",
            )
            .with_target("OData-MaxVersion"),
        )
        .into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert("odata-version", HeaderValue::from_static("4.0"));
    // browsers must not read a JSON error or a CSV download as HTML or script
    h.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "request-id",
        HeaderValue::from_str(&request_id).expect("uuid is ascii"),
    );
    if let Some(c) = client_request_id {
        h.insert("client-request-id", c);
    }
    let status = resp.status().as_u16();
    metrics::counter!(
        "dw_http_requests_total",
        "status" => status.to_string(),
        "api_version" => api_version,
        "collection" => collection
    )
    .increment(1);
    // up to the response's head: a streamed page's rows follow (see `dw_page_duration_seconds`)
    metrics::histogram!("dw_http_response_start_seconds", "collection" => collection)
        .record(started.elapsed().as_secs_f64());
    // Streamed responses write their line when the stream ends, with the rows sent.
    if resp.extensions().get::<Streamed>().is_none() {
        let who = audit.0.lock().expect("lock").clone().unwrap_or_default();
        tracing::info!(
            request_id = %request_id,
            method = %method,
            path = %log_safe(&path),
            status = resp.status().as_u16(),
            tenant = %log_safe(&who.tenant),
            client_id = %log_safe(&who.client_id),
            subject = %log_safe(&who.subject),
            duration_ms = started.elapsed().as_millis() as u64,
            "request"
        );
    }
    resp
}

/// The `api-version` of a query string as a metrics label: a version the service has, `none`, or
/// `other` (so that clients cannot make up label values).
fn api_version_label(query: &str) -> &'static str {
    let value = query.split('&').find_map(|part| {
        let (name, value) = part.split_once('=')?;
        name.eq_ignore_ascii_case("api-version").then_some(value)
    });
    match value {
        None => "none",
        Some(v) => warehouse::model::ApiVersion::ALL
            .into_iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(v))
            .map_or("other", |known| known.as_str()),
    }
}

/// The resource a request's path names, as a metrics label: a collection of the model under its
/// own name (whatever case the client wrote), `$metadata`, `$service` (the service document),
/// `openapi.json`, `other` for anything else under the service root, `none` outside it (token
/// endpoint, health). Clients cannot make up label values.
fn collection_label(path: &str) -> &'static str {
    let path = path.strip_prefix(crate::ROUTED_PREFIX).unwrap_or(path);
    let Some(rest) = path.strip_prefix(crate::BASE_PATH) else {
        return "none";
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return "none";
    }
    let first = rest
        .trim_start_matches('/')
        .split(['/', '('])
        .next()
        .unwrap_or_default();
    match first {
        "" => "$service",
        "$metadata" => "$metadata",
        "openapi.json" => "openapi.json",
        name => warehouse::Warehouse::get()
            .collections
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map_or("other", |c| c.name.as_str()),
    }
}

/// Turns a panic into an OData 500 without internals.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    let mut r = ApiError(ODataError::new(
        ErrorKind::Internal,
        "The request could not be completed because of an internal error.",
    ))
    .into_response();
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_or_addresses_with_a_port() {
        for good in [
            "localhost",
            "localhost:8080",
            "dw.example.com",
            "dw_1",
            "127.0.0.1:65535",
            "[::1]",
            "[2001:db8::1]:443",
        ] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "",
            "evil.example?x=",
            "a\"b",
            "user@host",
            "host#frag",
            "host:65536",
            "host:",
            "host:80:80",
            "[::1",
            "[nothost]:80",
            "::1",
            "host/path",
            "héllo",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn collection_labels_come_from_the_model() {
        let root = crate::BASE_PATH;
        for (path, label) in [
            (format!("{root}/devices"), "devices"),
            (format!("{root}/Devices(42)/deviceType"), "devices"),
            (format!("{}{root}/users", crate::ROUTED_PREFIX), "users"),
            (format!("{root}/$metadata"), "$metadata"),
            (format!("{root}/"), "$service"),
            (root.to_string(), "$service"),
            (format!("{root}/openapi.json"), "openapi.json"),
            (format!("{root}/madeUp{}", "x".repeat(50)), "other"),
            (format!("{root}x/devices"), "none"),
            ("/oauth2/token".to_string(), "none"),
        ] {
            assert_eq!(collection_label(&path), label, "{path}");
        }
    }
}
