//! Why an ingestion run stopped (nothing was published), naming the file, record and field at
//! fault.

use std::fmt;
use warehouse::store::StoreError;

/// Why an ingestion run stopped. Nothing was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestError {
    /// File at fault, if any.
    pub file: Option<String>,
    /// 0-based index of the record at fault.
    pub record: Option<usize>,
    /// Field at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl IngestError {
    pub(crate) fn file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: Some(file.into()),
            record: None,
            field: None,
            message: message.into(),
        }
    }

    pub(crate) fn record(
        file: &str,
        record: usize,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: Some(file.into()),
            record: Some(record),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    pub(crate) fn run(message: impl Into<String>) -> Self {
        Self {
            file: None,
            record: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(r) = self.record {
            write!(f, "record {}: ", r + 1)?;
        }
        if let Some(field) = &self.field {
            write!(f, "field '{field}' ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for IngestError {}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::run(e.to_string())
    }
}
