//! The HTTP rendering of [`ODataError`]: status, OData JSON body, and `Allow` for 405s.

use auth::log_safe;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use odata::{ErrorKind, ODataError};
use warehouse::StoreError;

/// Seconds a 503 asks the client to wait before trying again.
const RETRY_AFTER_SECS: &str = "5";

/// An error answered as an OData JSON error body.
#[derive(Debug)]
pub struct ApiError(pub ODataError);

impl From<ODataError> for ApiError {
    fn from(e: ODataError) -> Self {
        Self(e)
    }
}

impl From<warehouse::sql::StatementTooLarge> for ApiError {
    fn from(e: warehouse::sql::StatementTooLarge) -> Self {
        tracing::info!(bytes = e.bytes, "query refused: its statement is too large");
        Self(ODataError::bad_request(format!("The query is too large: {e}.")).with_target("query"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // Details go to the log, never to the client (evaluation failures are the client's).
        match &e {
            StoreError::Evaluation(m) => {
                tracing::info!(reason = %log_safe(m), "query cannot be evaluated")
            }
            StoreError::Timeout(_)
            | StoreError::Cancelled
            | StoreError::Busy(_)
            | StoreError::ClientBusy(_) => {
                let reason = match &e {
                    StoreError::Timeout(_) => "time-budget",
                    StoreError::Busy(_) => "statements-per-tenant",
                    StoreError::ClientBusy(_) => "statements-per-client",
                    _ => "client-gone",
                };
                metrics::counter!("dw_statements_stopped_total", "reason" => reason).increment(1);
                tracing::warn!(error = %log_safe(&e.to_string()), "statement stopped")
            }
            other => tracing::error!(error = %log_safe(&other.to_string()), "store error"),
        }
        Self(match e {
            StoreError::Evaluation(m) => {
                ODataError::bad_request(format!("The query cannot be evaluated on this data: {m}."))
            }
            StoreError::Timeout(budget) => ODataError::new(
                ErrorKind::Unavailable,
                format!(
                    "The query ran longer than the statement time budget ({budget}) and was \
                     stopped; narrow it (a more selective $filter, no $count, fewer rows) or try \
                     again later."
                ),
            )
            .with_target("statement time budget"),
            StoreError::Busy(limit) => ODataError::new(
                ErrorKind::Unavailable,
                format!(
                    "This tenant already has {limit} queries running (the limit of concurrent \
                     statements per tenant); try again shortly."
                ),
            )
            .with_target("statements per tenant"),
            StoreError::ClientBusy(limit) => ODataError::new(
                ErrorKind::Unavailable,
                format!(
                    "This client already has {limit} queries running (the limit per client, \
                     which leaves its tenant's other clients their share); try again shortly."
                ),
            )
            .with_target("statements per client"),
            StoreError::Cancelled => ODataError::new(
                ErrorKind::Unavailable,
                "The query was stopped because the client went away.",
            ),
            StoreError::Unavailable(_) => ODataError::new(
                ErrorKind::Unavailable,
                "The data store is unavailable; try again later.",
            ),
            _ => ODataError::new(
                ErrorKind::Internal,
                "The request could not be completed because of an internal error.",
            ),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, self.0.to_json()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;odata.metadata=minimal;charset=utf-8"),
        );
        if self.0.kind == ErrorKind::MethodNotAllowed {
            h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        if self.0.kind == ErrorKind::Unavailable {
            h.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        resp
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_and_refused_statements_are_503_with_retry_after_naming_the_limit() {
        for (error, target) in [
            (
                StoreError::Timeout("30s".into()),
                Some("statement time budget"),
            ),
            (StoreError::Busy(6), Some("statements per tenant")),
            (StoreError::ClientBusy(4), Some("statements per client")),
            (StoreError::Cancelled, None),
        ] {
            let api = ApiError::from(error);
            assert_eq!(api.0.target.as_deref(), target);
            let resp = api.into_response();
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(resp.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS);
        }
    }
}
