//! The token endpoint's errors, as RFC 6749 writes them.

/// An RFC 6749 error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: u16,
    /// `error` code (`invalid_client`, `invalid_grant`, ...).
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
    /// Seconds to wait, for rate-limited requests.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub(crate) fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.error, "error_description": self.description })
            .to_string()
    }
}
