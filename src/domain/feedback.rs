//! Feedback (återkoppling): what coordinators tell the people who report about what became of
//! it ("the lighting on the path is fixed", "we are out on Friday evenings now"). A feedback is a
//! short text on one or more areas, or on a measure; it syncs down to every phone of the
//! organisation and shows there next to the user's own reports on those areas.

use super::FieldError;
use super::plan::{MAX_REFERENCE_CHARS, list, text};
use serde::{Deserialize, Serialize};

/// The longest feedback, in characters: a few sentences, read on a phone.
pub const MAX_BODY_CHARS: usize = 1_000;
/// The most areas one feedback names.
pub const MAX_AREAS: usize = 50;

/// A feedback's fields as a client sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackFields {
    pub body: String,
    /// The areas it is about, by code. For feedback on a measure, empty means the measure's.
    #[serde(default)]
    pub areas: Vec<String>,
    /// The measure it is about, by id.
    #[serde(default)]
    pub measure: Option<String>,
}

impl FeedbackFields {
    /// The fields as stored: text trimmed and redacted like a note, areas without repeats, and
    /// an error for each field at fault.
    pub fn checked(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let body = text("body", &self.body, MAX_BODY_CHARS, true, &mut errors);
        let areas = list("areas", &self.areas, false, &mut errors);
        if areas.len() > MAX_AREAS {
            errors.push(FieldError::new("areas", "too_many", format!("at most {MAX_AREAS}")));
        }
        let measure = self.measure.map(|id| id.trim().to_owned());
        match &measure {
            Some(id) if id.is_empty() || id.chars().count() > MAX_REFERENCE_CHARS => {
                errors.push(FieldError::new("measure", "unknown_reference", "no such measure"));
            }
            None if self.areas.is_empty() => {
                errors.push(FieldError::new("areas", "required", "name at least one area, or a measure"));
            }
            _ => {}
        }
        if errors.is_empty() { Ok(Self { body, areas, measure }) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str, areas: &[&str], measure: Option<&str>) -> FeedbackFields {
        FeedbackFields {
            body: body.to_owned(),
            areas: areas.iter().map(|a| (*a).to_owned()).collect(),
            measure: measure.map(str::to_owned),
        }
    }

    fn codes(result: Result<FeedbackFields, Vec<FieldError>>) -> Vec<(String, String)> {
        result.err().unwrap_or_default().into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn feedback_names_an_area_or_a_measure() {
        assert_eq!(codes(fields("Lampan är lagad", &[], None).checked()), [("areas".into(), "required".into())]);
        assert!(fields("Lampan är lagad", &["GRR"], None).checked().is_ok());
        assert!(fields("Lampan är lagad", &[], Some("m1")).checked().is_ok());
    }

    #[test]
    fn the_body_is_required_short_and_redacted() {
        assert_eq!(codes(fields("  ", &["GRR"], None).checked()), [("body".into(), "required".into())]);
        let long = "a".repeat(MAX_BODY_CHARS + 1);
        assert_eq!(codes(fields(&long, &["GRR"], None).checked()), [("body".into(), "too_long".into())]);
        let stored = fields(" Ring 070-123 45 67 ", &["GRR", "GRR"], None).checked().ok();
        let stored = stored.map(|f| (f.body, f.areas));
        assert_eq!(stored, Some(("Ring [telefonnummer borttaget]".to_owned(), vec!["GRR".to_owned()])));
    }
}
