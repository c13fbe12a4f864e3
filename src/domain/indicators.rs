//! Indicators: the measures a follow-up reports success by (survey results such as "share who
//! feel safe outdoors after dark"), their target rules, and how the latest value of each group
//! stands against the target and against the value before it.

use super::identity::{Name, Slug};
use super::{FieldError, FieldErrors};
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

/// The earliest and latest year a value may be recorded for.
pub const YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;
/// The most groups an indicator may be broken down by.
pub const MAX_GROUPS: usize = 20;
/// The longest note on a value, in characters.
pub const MAX_VALUE_NOTE_CHARS: usize = 500;
/// The longest unit, in characters.
const MAX_UNIT_CHARS: usize = 32;

/// When an indicator's latest value meets its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetRule {
    /// The latest value is at least as good as the one before it ("bibehålla eller förbättra").
    MaintainOrImprove,
    /// The latest value is at least this.
    AtLeast(f64),
    /// The latest value is at most this.
    AtMost(f64),
}

impl TargetRule {
    /// The stable name of the rule's kind.
    pub fn kind(self) -> &'static str {
        match self {
            Self::MaintainOrImprove => "maintain_or_improve",
            Self::AtLeast(_) => "at_least",
            Self::AtMost(_) => "at_most",
        }
    }

    /// The threshold, for the kinds that have one.
    pub fn value(self) -> Option<f64> {
        match self {
            Self::MaintainOrImprove => None,
            Self::AtLeast(value) | Self::AtMost(value) => Some(value),
        }
    }

    /// Parses a rule from its kind and threshold, naming `target.kind` or `target.value` on failure.
    pub fn parse(kind: &str, value: Option<f64>) -> Result<Self, FieldError> {
        let threshold = |value: Option<f64>| match value {
            Some(value) if value.is_finite() => Ok(value),
            Some(_) => Err(FieldError::new("target.value", "invalid_type", "must be a finite number")),
            None => Err(FieldError::new("target.value", "required", format!("`{kind}` needs a threshold value"))),
        };
        match kind {
            "maintain_or_improve" if value.is_some() => Err(FieldError::new(
                "target.value",
                "not_allowed",
                "`maintain_or_improve` compares with the previous value and takes no threshold",
            )),
            "maintain_or_improve" => Ok(Self::MaintainOrImprove),
            "at_least" => threshold(value).map(Self::AtLeast),
            "at_most" => threshold(value).map(Self::AtMost),
            _ => Err(FieldError::new(
                "target.kind",
                "unknown_target_kind",
                format!("unknown target kind `{kind}`; expected maintain_or_improve, at_least or at_most"),
            )),
        }
    }
}

impl Serialize for TargetRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Target {
            kind: &'static str,
            value: Option<f64>,
        }
        Target { kind: self.kind(), value: self.value() }.serialize(serializer)
    }
}

/// What an indicator is: everything but its values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Definition {
    pub name_sv: String,
    pub name_en: String,
    pub source: String,
    pub unit: String,
    pub groups: Vec<String>,
    pub target: TargetRule,
    pub higher_is_better: bool,
}

/// A definition as sent: text to be parsed.
pub struct DefinitionInput<'a> {
    pub name_sv: &'a str,
    pub name_en: &'a str,
    pub source: &'a str,
    pub unit: &'a str,
    pub groups: &'a [String],
    pub target_kind: &'a str,
    pub target_value: Option<f64>,
    pub higher_is_better: bool,
}

/// Parses a definition; every failure names its field.
pub fn parse_definition(input: &DefinitionInput<'_>) -> Result<Definition, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let mut name = |field: &str, value: &str| errors.check(Name::parse(field, value)).map(|n| n.as_str().to_owned());
    let (name_sv, name_en, source) =
        (name("name_sv", input.name_sv), name("name_en", input.name_en), name("source", input.source));
    // The source is free text ("Skolenkäten 2025, kontakt …"): redacted like a note.
    let source = source.map(|source| crate::domain::redaction::redact(&source).text);
    let unit = errors.check(parse_unit(input.unit));
    let groups = match parse_groups(input.groups) {
        Ok(groups) => Some(groups),
        Err(found) => {
            errors.0.extend(found);
            None
        }
    };
    let target = errors.check(TargetRule::parse(input.target_kind, input.target_value));
    errors.finish()?;
    match (name_sv, name_en, source, unit, groups, target) {
        (Some(name_sv), Some(name_en), Some(source), Some(unit), Some(groups), Some(target)) => {
            Ok(Definition { name_sv, name_en, source, unit, groups, target, higher_is_better: input.higher_is_better })
        }
        _ => Err(vec![FieldError::new(".", "invalid", "the indicator could not be read")]),
    }
}

/// Parses a unit such as `percent` or `score`: 1–32 lowercase letters, digits, `-` or `_`.
pub fn parse_unit(value: &str) -> Result<String, FieldError> {
    match Slug::parse("unit", value.trim()) {
        Ok(unit) if unit.as_str().len() <= MAX_UNIT_CHARS => Ok(unit.as_str().to_owned()),
        _ => Err(FieldError::new(
            "unit",
            "invalid_unit",
            "use 1–32 lowercase letters, digits, `-` or `_`, e.g. `percent` or `score`",
        )),
    }
}

/// Parses the groups values are broken down by: distinct slugs, at most [`MAX_GROUPS`].
pub fn parse_groups(values: &[String]) -> Result<Vec<String>, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    if values.len() > MAX_GROUPS {
        errors.0.push(FieldError::new("groups", "too_many", format!("at most {MAX_GROUPS} groups")));
    }
    let mut groups: Vec<String> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let field = format!("groups[{i}]");
        let Some(slug) = errors.check(Slug::parse(&field, value.trim())) else { continue };
        if groups.iter().any(|g| g == slug.as_str()) {
            errors.0.push(FieldError::new(&field, "duplicate_group", format!("`{slug}` is listed twice")));
        } else {
            groups.push(slug.as_str().to_owned());
        }
    }
    errors.finish().map(|()| groups)
}

/// Parses a year in a path or body.
pub fn parse_year(text: &str) -> Result<i32, FieldError> {
    text.trim().parse::<i32>().ok().filter(|year| YEARS.contains(year)).ok_or_else(|| {
        FieldError::new("year", "invalid_year", format!("must be a year from {} to {}", YEARS.start(), YEARS.end()))
    })
}

/// One value as sent, before it is checked against the indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInput {
    /// The group, or none for the whole population.
    pub group: Option<String>,
    pub value: f64,
    pub note: Option<String>,
}

/// One value, checked: `group` is empty for the whole population.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedValue {
    pub group: String,
    pub value: f64,
    pub note: Option<String>,
}

/// Checks a year's values against the indicator: known groups (or none, for the whole
/// population), each at most once, percentages within 0–100, short notes.
pub fn check_values(definition: &Definition, inputs: &[ValueInput]) -> Result<Vec<CheckedValue>, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    if inputs.is_empty() {
        errors.0.push(FieldError::new(
            "values",
            "required",
            "give at least one value; DELETE the year's values to remove them",
        ));
    }
    let mut checked: Vec<CheckedValue> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let group = input.group.as_deref().map(str::trim).unwrap_or_default().to_owned();
        if !group.is_empty() && !definition.groups.contains(&group) {
            let known = if definition.groups.is_empty() {
                "this indicator has no groups: leave `group` out".to_owned()
            } else {
                format!("expected one of {} (or none for the whole population)", definition.groups.join(", "))
            };
            errors.0.push(FieldError::new(
                &format!("values[{i}].group"),
                "unknown_group",
                format!("`{group}` is not a group of this indicator; {known}"),
            ));
        } else if checked.iter().any(|c| c.group == group) {
            errors.0.push(FieldError::new(
                &format!("values[{i}].group"),
                "duplicate_group",
                "each group may have one value per year",
            ));
        }
        if !input.value.is_finite() {
            errors.0.push(FieldError::new(&format!("values[{i}].value"), "invalid_type", "must be a finite number"));
        } else if definition.unit == "percent" && !(0.0..=100.0).contains(&input.value) {
            errors.0.push(FieldError::new(
                &format!("values[{i}].value"),
                "out_of_range",
                format!("{} is not a percentage from 0 to 100", input.value),
            ));
        }
        let note = input.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > MAX_VALUE_NOTE_CHARS) {
            errors.0.push(FieldError::new(
                &format!("values[{i}].note"),
                "too_long",
                format!("may have at most {MAX_VALUE_NOTE_CHARS} characters"),
            ));
        }
        // Free text like a note: personal data in it is replaced before it is stored.
        let note = note.map(|note| crate::domain::redaction::redact(note).text);
        checked.push(CheckedValue { group, value: input.value, note });
    }
    errors.finish().map(|()| checked)
}

/// Which way the latest value moved from the one before it, for the better or the worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Improved,
    Unchanged,
    Worsened,
    /// Fewer than two values: nothing to compare.
    NoData,
}

/// Why `meets_target` is what it is: a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetReason {
    /// No value recorded.
    NoData,
    /// `maintain_or_improve` with a single value: nothing to compare with.
    NoPreviousValue,
    /// `maintain_or_improve`: as good as or better than the previous value.
    MaintainedOrImproved,
    /// `maintain_or_improve`: worse than the previous value.
    Worsened,
    /// `at_least`: the threshold is reached.
    AtOrAboveTarget,
    /// `at_least`: the threshold is not reached.
    BelowTarget,
    /// `at_most`: within the threshold.
    AtOrBelowTarget,
    /// `at_most`: over the threshold.
    AboveTarget,
}

/// Where one group of an indicator stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStatus {
    /// The group, or null for the whole population.
    pub group: Option<String>,
    pub latest_year: Option<i32>,
    pub latest_value: Option<f64>,
    /// The value of the most recent earlier year with a value (surveys are often biennial).
    pub previous_year: Option<i32>,
    pub previous_value: Option<f64>,
    /// Latest minus previous.
    pub change: Option<f64>,
    pub trend: Trend,
    /// Whether the latest value meets the target; null when it cannot be told.
    pub meets_target: Option<bool>,
    pub reason: TargetReason,
}

/// Evaluates one group's values, given as (year, value) in any order.
pub fn evaluate(
    target: TargetRule,
    higher_is_better: bool,
    group: Option<String>,
    values: &[(i32, f64)],
) -> GroupStatus {
    let mut series = values.to_vec();
    series.sort_by_key(|(year, _)| *year);
    let latest = series.last().copied();
    let previous = series.len().checked_sub(2).and_then(|i| series.get(i)).copied();
    let change = latest.zip(previous).map(|((_, now), (_, before))| round(now - before));
    let better = |change: f64| if higher_is_better { change > 0.0 } else { change < 0.0 };
    let trend = match change {
        None => Trend::NoData,
        Some(0.0) => Trend::Unchanged,
        Some(change) if better(change) => Trend::Improved,
        Some(_) => Trend::Worsened,
    };
    let (meets_target, reason) = match (target, latest) {
        (_, None) => (None, TargetReason::NoData),
        (TargetRule::MaintainOrImprove, Some(_)) => match trend {
            Trend::NoData => (None, TargetReason::NoPreviousValue),
            Trend::Worsened => (Some(false), TargetReason::Worsened),
            Trend::Improved | Trend::Unchanged => (Some(true), TargetReason::MaintainedOrImproved),
        },
        (TargetRule::AtLeast(threshold), Some((_, value))) if value >= threshold => {
            (Some(true), TargetReason::AtOrAboveTarget)
        }
        (TargetRule::AtLeast(_), Some(_)) => (Some(false), TargetReason::BelowTarget),
        (TargetRule::AtMost(threshold), Some((_, value))) if value <= threshold => {
            (Some(true), TargetReason::AtOrBelowTarget)
        }
        (TargetRule::AtMost(_), Some(_)) => (Some(false), TargetReason::AboveTarget),
    };
    GroupStatus {
        group,
        latest_year: latest.map(|(year, _)| year),
        latest_value: latest.map(|(_, value)| value),
        previous_year: previous.map(|(year, _)| year),
        previous_value: previous.map(|(_, value)| value),
        change,
        trend,
        meets_target,
        reason,
    }
}

/// Differences of survey figures such as 80.5 − 76.8 come out as 3.700000000000003 in binary
/// floating point; six decimals are more than any survey reports.
fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A recorded value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedValue {
    pub year: i32,
    /// The group, or null for the whole population.
    pub group: Option<String>,
    pub value: f64,
    pub note: Option<String>,
    /// The user who recorded it.
    pub recorded_by: Option<String>,
    #[serde(serialize_with = "millis")]
    pub recorded_at: DateTime<Utc>,
}

/// An indicator with its values and where it stands: what the API answers and the follow-up
/// report prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorSummary {
    pub id: String,
    pub slug: String,
    /// Its names, source, unit, groups and target, as defined.
    #[serde(flatten)]
    pub definition: Definition,
    /// False when any group misses the target, true when every group meets it, else null.
    pub meets_target: Option<bool>,
    /// One entry per group (and one for the whole population when it has values, or when the
    /// indicator has no groups).
    pub status: Vec<GroupStatus>,
    /// Every value, by year and then group.
    pub values: Vec<RecordedValue>,
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "millis")]
    pub updated_at: DateTime<Utc>,
}

/// What an indicator is made of, as stored, before it is evaluated.
pub struct Stored {
    pub id: String,
    pub slug: String,
    pub definition: Definition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl IndicatorSummary {
    /// Evaluates a stored indicator and its values.
    pub fn build(stored: Stored, mut values: Vec<RecordedValue>) -> Self {
        values.sort_by(|a, b| (a.year, &a.group).cmp(&(b.year, &b.group)));
        let Stored { id, slug, definition, created_at, updated_at } = stored;
        let mut groups: Vec<Option<String>> = definition.groups.iter().cloned().map(Some).collect();
        if groups.is_empty() || values.iter().any(|v| v.group.is_none()) {
            groups.push(None);
        }
        let status: Vec<GroupStatus> = groups
            .into_iter()
            .map(|group| {
                let series: Vec<(i32, f64)> =
                    values.iter().filter(|v| v.group == group).map(|v| (v.year, v.value)).collect();
                evaluate(definition.target, definition.higher_is_better, group, &series)
            })
            .collect();
        let meets_target = if status.iter().any(|s| s.meets_target == Some(false)) {
            Some(false)
        } else if status.iter().all(|s| s.meets_target == Some(true)) {
            Some(true)
        } else {
            None
        };
        Self { id, slug, definition, meets_target, status, values, created_at, updated_at }
    }
}

fn millis<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&super::time::rfc3339(*at))
}

#[cfg(test)]
mod tests;
