//! The site around the OData service: the root page, health and readiness, the ingestion
//! status, and 404s outside the service.

use crate::{ApiError, AppState, BASE_PATH};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use odata::{ErrorKind, ODataError};

/// `/`: links to the service document, `$metadata` and the documentation.
pub async fn root() -> Html<String> {
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Device Warehouse</title></head>
<body style="font-family:sans-serif;max-width:50em;margin:2em auto">
<h1>Device Warehouse</h1>
<p>An Intune-compatible device-management data warehouse served over OData v4.</p>
<ul>
<li><a href="{BASE_PATH}?api-version=v1.0">Service document (v1.0)</a> · <a href="{BASE_PATH}?api-version=beta">beta</a></li>
<li><a href="{BASE_PATH}/$metadata?api-version=v1.0">$metadata (CSDL XML)</a> · <a href="{BASE_PATH}/$metadata?api-version=v1.0&amp;$format=json">CSDL JSON</a></li>
<li><a href="{BASE_PATH}/devices?api-version=v1.0&amp;$top=5">Five devices</a></li>
<li><a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></li>
</ul>
<p>Documentation: the project's README (query options, paging, errors, configuration).</p>
</body></html>"#
    ))
}

/// `/healthz`: the process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `/readyz`: the store answers.
pub async fn readyz(State(app): State<AppState>) -> Response {
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || store.ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            "store unavailable",
        )
            .into_response(),
    }
}

/// `/status/ingest`: the last scheduled ingestion, for callers of the scheduled tenant (others see
/// no schedule).
pub async fn ingest_status(
    State(app): State<AppState>,
    caller: crate::authn::Authenticated,
) -> Response {
    let status = app.ingest_status.read().expect("lock").clone();
    // another tenant's schedule and runs are not the caller's to see
    let status = match status.get("tenant").and_then(|t| t.as_str()) {
        Some(tenant) if tenant != caller.0.tenant => serde_json::json!({ "scheduled": false }),
        _ => status,
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        status.to_string(),
    )
        .into_response()
}

/// Any path outside the service.
pub async fn not_found() -> Response {
    not_found_response()
}

/// The 404 answer for paths outside the service.
pub fn not_found_response() -> Response {
    ApiError(ODataError::new(
        ErrorKind::NotFound,
        format!("Not found. The service root is {BASE_PATH}?api-version=v1.0"),
    ))
    .into_response()
}
