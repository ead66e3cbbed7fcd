//! The one error type of OData processing, rendered by servers as the OData JSON error body.

use std::fmt;

/// What went wrong, which decides the HTTP status a server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or ill-typed request (400).
    BadRequest,
    /// Authentication required or failed (401).
    Unauthorized,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// Resource does not exist (404).
    NotFound,
    /// Method not allowed on the resource (405).
    MethodNotAllowed,
    /// No acceptable representation (406).
    NotAcceptable,
    /// What the request names is no longer kept and will not be again (410): a delta link
    /// older than the changes the service keeps.
    Gone,
    /// The request target is longer than the service reads (414).
    UriTooLong,
    /// The request headers are larger than the service reads (431).
    HeadersTooLarge,
    /// Valid OData the service does not implement (501).
    NotImplemented,
    /// The service failed (500); the message never carries internals.
    Internal,
    /// The store is unavailable (503).
    Unavailable,
}

impl ErrorKind {
    /// The HTTP status code for this kind.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::NotAcceptable => 406,
            Self::Gone => 410,
            Self::UriTooLong => 414,
            Self::HeadersTooLarge => 431,
            Self::NotImplemented => 501,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// The stable machine-readable error code used in `error.code`.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::NotAcceptable => "NotAcceptable",
            Self::Gone => "Gone",
            Self::UriTooLong => "UriTooLong",
            Self::HeadersTooLarge => "RequestHeaderFieldsTooLarge",
            Self::NotImplemented => "NotImplemented",
            Self::Internal => "InternalServerError",
            Self::Unavailable => "ServiceUnavailable",
        }
    }
}

/// An OData error: kind, human message, optional target (the query option or segment at fault)
/// and optional position (0-based character offset inside the target's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataError {
    /// Category, which fixes the status code.
    pub kind: ErrorKind,
    /// Message for people; never contains internal details.
    pub message: String,
    /// The part of the request at fault (e.g. `$filter`).
    pub target: Option<String>,
    /// Offset of the problem inside the target text.
    pub position: Option<usize>,
}

impl ODataError {
    /// A new error without target.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            target: None,
            position: None,
        }
    }

    /// A 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// A 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A 501 Not Implemented.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, message)
    }

    /// Sets the target (query option or path segment) the error refers to.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the offset of the problem inside the target text.
    pub fn at(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    /// Writes the OData JSON error body (`{"error":{code,message,target,details}}`).
    pub fn to_json(&self) -> String {
        let mut message = self.message.clone();
        if let (Some(target), Some(pos)) = (&self.target, self.position) {
            message = format!("{message} (in {target} at position {pos})");
        }
        let mut details = Vec::new();
        if let Some(pos) = self.position {
            details.push(serde_json::json!({
                "code": "Position",
                "message": format!("The problem starts at character {pos}."),
                "target": self.target.clone().unwrap_or_default(),
                "position": pos,
            }));
        }
        serde_json::json!({
            "error": {
                "code": self.kind.code(),
                "message": message,
                "target": self.target,
                "details": details,
            }
        })
        .to_string()
    }
}

impl fmt::Display for ODataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(t) = &self.target {
            write!(f, " [{t}")?;
            if let Some(p) = self.position {
                write!(f, " @{p}")?;
            }
            write!(f, "]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ODataError {}
