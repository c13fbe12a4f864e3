//! The domain: pure types and rules, no HTTP and no SQL.

pub mod activity;
pub mod areas;
pub mod attachments;
pub mod effect;
pub mod effort;
pub mod feedback;
pub mod geo;
pub mod identity;
pub mod indicators;
pub mod password;
pub mod period;
pub mod plan;
pub mod push;
pub mod records;
pub mod redaction;
pub mod reference;
pub mod retention;
pub mod rings;
pub mod simplify;
pub mod stored;
pub mod sun;
pub mod sync;
pub mod time;
pub mod weekly;

use serde::Serialize;

/// One reason a request's input was refused, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, as the client named it (`password`, `unit`).
    pub field: String,
    /// A stable snake_case code (`too_short`, `invalid_format`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl FieldError {
    /// A field error with its stable code and human message.
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), code: code.to_owned(), message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Collects field errors so that one answer names every field at fault.
#[derive(Debug, Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Keeps the parsed value, or records why it was refused.
    pub fn check<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    /// `Ok` when nothing was refused.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}
