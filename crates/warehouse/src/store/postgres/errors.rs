//! The driver's errors as the store's: what a client may retry, what timed out, what the data
//! refused, and what failed.

use crate::store::StoreError;

/// Whether `e` says the connection is gone (the server shut down, restarted or cannot be
/// reached: SQLSTATE classes 08 and 57P, or the socket itself), rather than that the statement
/// failed.
pub(super) fn connection_lost(e: &postgres::Error) -> bool {
    e.is_closed()
        || e.as_db_error().is_some_and(|db| {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("57P")
        })
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// The store's error for a driver's error: a lost connection, a timeout, a data exception,
/// or a failed statement (clipped).
pub(super) fn query_err(e: postgres::Error) -> StoreError {
    if connection_lost(&e) {
        return StoreError::Unavailable(format!("the store's connection was lost: {e}"));
    }
    // 57014 query_canceled: the transaction's statement_timeout stopped it
    if e.as_db_error()
        .is_some_and(|db| db.code().code() == "57014")
    {
        return StoreError::Timeout("the store's statement_timeout".into());
    }
    // SQLSTATE class 22: data exceptions (numeric value out of range, ...)
    if let Some(db) = e
        .as_db_error()
        .filter(|db| db.code().code().starts_with("22"))
    {
        return StoreError::Evaluation(crate::store::clipped(db.message().to_string()));
    }
    StoreError::Query(crate::store::clipped(match e.as_db_error() {
        Some(db) => format!(
            "{} ({}){}",
            db.message(),
            db.code().code(),
            db.detail().map(|d| format!(": {d}")).unwrap_or_default()
        ),
        None => e.to_string(),
    }))
}
