//! The action plan (åtgärdsplan): problems a coordinator sees in the picture, and the measures
//! taken against them. This module holds their fields and the rules for them; whether the areas,
//! categories, activity types, units and problems they name exist is the database's to say.

use super::FieldError;
use super::redaction::redact;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;
/// The longest decision reference ("EST-möte 2026-03-04"), in characters.
pub const MAX_DECISION_CHARS: usize = 200;
/// The most entries in any one list (areas, categories, activity types, problems).
pub const MAX_LIST: usize = 50;

/// The longest area code, slug or id an item names.
pub const MAX_REFERENCE_CHARS: usize = 100;

/// Where a problem was seen.
pub const SOURCES: [&str; 5] = ["picture", "partner", "youth_dialogue", "field_staff", "other"];
/// A problem's statuses: still to be dealt with, being watched, no longer a problem.
pub const PROBLEM_STATUSES: [&str; 3] = ["open", "monitoring", "closed"];
/// A measure's statuses.
pub const MEASURE_STATUSES: [&str; 4] = ["planned", "ongoing", "done", "stopped"];

/// When a problem shows: hours of the day (`from_hour` to `to_hour`, wrapping past midnight when
/// `to_hour` is smaller), ISO weekdays (1 = Monday), and whether only after dark. Empty means
/// any time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    #[serde(default)]
    pub from_hour: Option<u8>,
    #[serde(default)]
    pub to_hour: Option<u8>,
    #[serde(default)]
    pub weekdays: Vec<u8>,
    #[serde(default)]
    pub after_dark: bool,
}

/// A problem's fields as a client sends them (and as the API shows them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemFields {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub source: String,
    #[serde(default = "open")]
    pub status: String,
    pub areas: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub time_window: TimeWindow,
}

fn open() -> String {
    "open".to_owned()
}

fn planned() -> String {
    "planned".to_owned()
}

/// The effort a measure plans: hours of presence a week, or a one-off piece of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Effort {
    WeeklyHours { hours: f64 },
    OneOff { description: String },
}

/// A measure's fields as a client sends them (and as the API shows them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureFields {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The unit (a municipal team or a partner such as the police or the housing company) that
    /// carries it out, by slug.
    pub responsible_unit: String,
    #[serde(default = "planned")]
    pub status: String,
    pub areas: Vec<String>,
    #[serde(default)]
    pub problems: Vec<String>,
    /// The categories of observations it should move.
    #[serde(default)]
    pub categories: Vec<String>,
    /// The activity types whose logs in its areas and dates count as its delivered effort.
    #[serde(default)]
    pub activity_types: Vec<String>,
    /// Partner units (by slug) whose users see the measure; the responsible unit's users see it
    /// anyway and may mark it ongoing or done.
    #[serde(default)]
    pub shared_with: Vec<String>,
    pub planned_start: String,
    #[serde(default)]
    pub planned_end: Option<String>,
    pub effort: Effort,
    /// The decision it came from ("EST-möte 2026-03-04").
    #[serde(default)]
    pub decision: String,
}

/// Reads a whole body (a creation, or a stored item with a change merged in) as `T`, naming the
/// field an error is about (`areas`, `effort.hours`, `time_window.weekdays[1]`).
pub fn read<T: for<'de> Deserialize<'de>>(body: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(body).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        // A missing field's path is its container's; an unknown field's is the field's own.
        let (code, named) = if let Some(rest) = message.strip_prefix("missing field `") {
            ("required", rest.split('`').next())
        } else if message.starts_with("unknown field `") {
            ("unknown_field", None)
        } else {
            ("invalid_type", None)
        };
        let field = match named {
            Some(name) if path == "." => name.to_owned(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." => ".".to_owned(),
            None => path,
        };
        FieldError::new(&field, code, message)
    })
}

/// `current` with the fields of `change` put in its place (a JSON merge: absent fields stay).
pub fn merged(current: &impl Serialize, change: Map<String, Value>) -> Value {
    let mut body = match serde_json::to_value(current) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    body.extend(change);
    Value::Object(body)
}

/// Free text, trimmed and redacted; an error for empty (when required), too long or control characters.
pub fn text(field: &str, value: &str, max: usize, required: bool, errors: &mut Vec<FieldError>) -> String {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        errors.push(FieldError::new(field, "required", "must not be empty"));
    } else if trimmed.chars().count() > max {
        errors.push(FieldError::new(field, "too_long", format!("may have at most {max} characters")));
    } else if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        errors.push(FieldError::new(field, "invalid_characters", "must not hold control characters"));
    }
    // Free text about people and places: redacted like a note.
    redact(trimmed).text
}

fn one_of(field: &str, value: &str, allowed: &[&str], errors: &mut Vec<FieldError>) {
    if !allowed.contains(&value) {
        errors.push(FieldError::new(field, "unknown_value", format!("must be one of {}", allowed.join(", "))));
    }
}

/// A list of references, trimmed and without repeats; an error for each empty, too long or odd entry.
pub fn list(field: &str, values: &[String], required: bool, errors: &mut Vec<FieldError>) -> Vec<String> {
    if required && values.is_empty() {
        errors.push(FieldError::new(field, "required", "must name at least one"));
    }
    if values.len() > MAX_LIST {
        errors.push(FieldError::new(field, "too_many", format!("at most {MAX_LIST}")));
    }
    let mut seen = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let field = format!("{field}[{index}]");
        let value = value.trim();
        if value.is_empty() {
            errors.push(FieldError::new(&field, "required", "must not be empty"));
        } else if value.chars().count() > MAX_REFERENCE_CHARS {
            errors.push(FieldError::new(
                &field,
                "too_long",
                format!("may have at most {MAX_REFERENCE_CHARS} characters"),
            ));
        } else if value.chars().any(char::is_control) {
            errors.push(FieldError::new(&field, "invalid_characters", "must not hold control characters"));
        } else if !seen.iter().any(|s: &String| s == value) {
            seen.push(value.to_owned());
        }
    }
    seen
}

/// A calendar date `YYYY-MM-DD`.
pub fn date(field: &str, value: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|date| value.len() == 10 && (2000..=2100).contains(&date.year()))
        .ok_or_else(|| FieldError::new(field, "invalid_date", "must be a date YYYY-MM-DD between 2000 and 2100"))
}

impl TimeWindow {
    fn check(&self, errors: &mut Vec<FieldError>) {
        for (field, hour) in [("time_window.from_hour", self.from_hour), ("time_window.to_hour", self.to_hour)] {
            if hour.is_some_and(|hour| hour > 23) {
                errors.push(FieldError::new(field, "out_of_range", "must be an hour from 0 to 23"));
            }
        }
        if self.from_hour.is_some() != self.to_hour.is_some() {
            errors.push(FieldError::new("time_window.to_hour", "hours_in_pairs", "give both hours or neither"));
        }
        if self.weekdays.iter().any(|day| !(1..=7).contains(day)) {
            errors.push(FieldError::new("time_window.weekdays", "out_of_range", "weekdays are 1 (Monday) to 7"));
        }
    }
}

impl ProblemFields {
    /// The fields as stored: checked, trimmed, free text redacted, lists without repeats.
    pub fn checked(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = text("title", &self.title, MAX_TITLE_CHARS, true, &mut errors);
        let description = text("description", &self.description, MAX_DESCRIPTION_CHARS, false, &mut errors);
        one_of("source", &self.source, &SOURCES, &mut errors);
        one_of("status", &self.status, &PROBLEM_STATUSES, &mut errors);
        let areas = list("areas", &self.areas, true, &mut errors);
        let categories = list("categories", &self.categories, false, &mut errors);
        self.time_window.check(&mut errors);
        let mut time_window = self.time_window;
        time_window.weekdays.sort_unstable();
        time_window.weekdays.dedup();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self { title, description, source: self.source, status: self.status, areas, categories, time_window })
    }
}

impl MeasureFields {
    /// The fields as stored: checked, trimmed, free text redacted, lists without repeats.
    pub fn checked(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = text("title", &self.title, MAX_TITLE_CHARS, true, &mut errors);
        let description = text("description", &self.description, MAX_DESCRIPTION_CHARS, false, &mut errors);
        let decision = text("decision", &self.decision, MAX_DECISION_CHARS, false, &mut errors);
        let responsible_unit = self.responsible_unit.trim().to_owned();
        if responsible_unit.is_empty() {
            errors.push(FieldError::new("responsible_unit", "required", "name the unit that carries it out"));
        }
        one_of("status", &self.status, &MEASURE_STATUSES, &mut errors);
        let areas = list("areas", &self.areas, true, &mut errors);
        let problems = list("problems", &self.problems, false, &mut errors);
        let categories = list("categories", &self.categories, false, &mut errors);
        let activity_types = list("activity_types", &self.activity_types, false, &mut errors);
        let shared_with = list("shared_with", &self.shared_with, false, &mut errors);
        let start = date("planned_start", &self.planned_start).map_err(|e| errors.push(e)).ok();
        let end = match self.planned_end.as_deref().filter(|end| !end.is_empty()) {
            Some(end) => date("planned_end", end).map_err(|e| errors.push(e)).ok(),
            None => None,
        };
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            errors.push(FieldError::new("planned_end", "before_start", "must not be before planned_start"));
        }
        let effort = match self.effort {
            Effort::WeeklyHours { hours } => {
                if !(hours.is_finite() && hours > 0.0 && hours <= 168.0) {
                    errors.push(FieldError::new("effort.hours", "out_of_range", "must be more than 0 and at most 168"));
                }
                Effort::WeeklyHours { hours }
            }
            Effort::OneOff { description } => Effort::OneOff {
                description: text("effort.description", &description, MAX_TITLE_CHARS * 2, true, &mut errors),
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            title,
            description,
            responsible_unit,
            status: self.status,
            areas,
            problems,
            categories,
            activity_types,
            shared_with,
            planned_start: self.planned_start,
            planned_end: end.map(|end| end.format("%Y-%m-%d").to_string()),
            effort,
            decision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn measure(body: Value) -> Result<MeasureFields, Vec<FieldError>> {
        read::<MeasureFields>(body).map_err(|e| vec![e])?.checked()
    }

    #[test]
    fn a_measure_names_every_field_at_fault_at_once() {
        let errors = measure(json!({
            "title": " ", "responsible_unit": "", "status": "maybe", "areas": [],
            "planned_start": "2026-13-01", "planned_end": "2026-01-01",
            "effort": { "kind": "weekly_hours", "hours": 0.0 },
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "responsible_unit", "status", "areas", "planned_start", "effort.hours"]);
    }

    #[test]
    fn an_end_before_the_start_is_refused_and_an_unknown_field_is_named() {
        let errors = measure(json!({
            "title": "Belysning", "responsible_unit": "tybo", "areas": ["GR"], "planned_start": "2026-03-01",
            "planned_end": "2026-02-01", "effort": { "kind": "one_off", "description": "Ny belysning" },
        }))
        .unwrap_err();
        assert_eq!(errors[0].code, "before_start");
        let unknown = read::<MeasureFields>(json!({ "titel": "x" })).unwrap_err();
        assert_eq!((unknown.field.as_str(), unknown.code.as_str()), ("titel", "unknown_field"));
    }

    #[test]
    fn a_body_of_the_wrong_shape_names_the_field_at_fault_however_deep() {
        let base = serde_json::json!({
            "title": "t", "source": "picture", "areas": ["GR"],
            "time_window": { "weekdays": [1, 2] },
        });
        let with = |pointer: &str, value: Value| {
            let mut body = base.clone();
            if let Some(slot) = body.pointer_mut(pointer) {
                *slot = value;
            } else if let Some(map) = body.as_object_mut() {
                map.insert(pointer.trim_start_matches('/').to_owned(), value);
            }
            read::<ProblemFields>(body).err().map(|e| (e.field, e.code))
        };
        let named = |field: &str, code: &str| Some((field.to_owned(), code.to_owned()));
        assert_eq!(with("/areas", Value::from("GR")), named("areas", "invalid_type"));
        assert_eq!(
            with("/time_window/weekdays/1", Value::from("tisdag")),
            named("time_window.weekdays[1]", "invalid_type")
        );
        assert_eq!(
            with("/time_window", serde_json::json!({ "colour": 1 })),
            named("time_window.colour", "unknown_field")
        );
        assert_eq!(with("/titel", Value::from("t")), named("titel", "unknown_field"));
        let mut missing = base.clone();
        missing.as_object_mut().map(|m| m.remove("source"));
        assert_eq!(read::<ProblemFields>(missing).err().map(|e| (e.field, e.code)), named("source", "required"));
        let effort = serde_json::json!({ "kind": "weekly_hours" });
        let measure = serde_json::json!({
            "title": "t", "responsible_unit": "u", "areas": ["GR"], "planned_start": "2026-01-01", "effort": effort,
        });
        assert_eq!(read::<MeasureFields>(measure).err().map(|e| (e.field, e.code)), named("effort.hours", "required"));
        assert_eq!(read::<ProblemFields>(Value::from(3)).err().map(|e| e.field), Some(".".to_owned()));
    }

    #[test]
    fn free_text_is_redacted_and_lists_lose_repeats() {
        let problem = read::<ProblemFields>(json!({
            "title": "Samling vid torget", "description": "Ring 070-123 45 67", "source": "picture",
            "areas": ["GR", "GR", "TC"], "time_window": { "weekdays": [5, 5, 6] },
        }))
        .unwrap()
        .checked()
        .unwrap();
        assert_eq!(problem.areas, ["GR", "TC"]);
        assert_eq!(problem.time_window.weekdays, [5, 6]);
        assert!(!problem.description.contains("123 45 67"), "{}", problem.description);
    }
}
