//! Activity counts for follow-up: activities, hours and contacts per group, with an activity that
//! spans a period boundary split by time.
//!
//! Contacts are recorded as two separate tallies, by gender and by age band, never crossed: a
//! report can break down by one of them, not by both. Grouped by gender (or age band), a row holds
//! the activities that had contacts of that gender, their hours, and the contacts of that gender.

use std::collections::BTreeMap;

/// What a report can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    Type,
    Unit,
    Area,
    Gender,
    AgeBand,
}

impl Dimension {
    /// The name used in `group_by` and in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Type => "type",
            Dimension::Unit => "unit",
            Dimension::Area => "area",
            Dimension::Gender => "gender",
            Dimension::AgeBand => "age_band",
        }
    }

    /// Reads one `group_by` name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "type" | "activity_type" => Dimension::Type,
            "unit" => Dimension::Unit,
            "area" => Dimension::Area,
            "gender" => Dimension::Gender,
            "age_band" | "age" => Dimension::AgeBand,
            _ => return None,
        })
    }
}

/// Reads `group_by` (comma-separated; `type` when empty). Gender and age band cannot be
/// combined: the two tallies are not crossed.
pub fn parse_dimensions(text: Option<&str>) -> Result<Vec<Dimension>, crate::domain::FieldError> {
    use crate::domain::FieldError;
    let text = text.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("type");
    let mut dimensions = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let dimension = Dimension::parse(name).ok_or_else(|| {
            FieldError::new(
                "group_by",
                "invalid_group",
                format!("`{name}` is not a grouping: use type, unit, area, gender or age_band"),
            )
        })?;
        if !dimensions.contains(&dimension) {
            dimensions.push(dimension);
        }
    }
    if dimensions.contains(&Dimension::Gender) && dimensions.contains(&Dimension::AgeBand) {
        return Err(FieldError::new(
            "group_by",
            "not_crossed",
            "contacts are counted by gender and by age band separately, not crossed: group by one of them",
        ));
    }
    Ok(dimensions)
}

/// The gender tally's buckets, in column order.
pub const GENDERS: [&str; 4] = ["girls", "boys", "other", "not_stated"];
/// The age tally's buckets, in column order (the slugs of DOMAIN.md).
pub const AGE_BANDS: [&str; 6] = ["under_13", "13_15", "16_17", "18_24", "25_plus", "unknown"];

/// The group name of records outside every area.
pub const OUTSIDE: &str = "outside";

/// An activity log as a report needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub activity_type: String,
    pub unit: String,
    /// The smallest area containing it, if any.
    pub area: Option<String>,
    pub started_at: i64,
    /// `None` while it is still running: it then counts at its start, with no hours.
    pub ended_at: Option<i64>,
    pub genders: [i64; 4],
    pub ages: [i64; 6],
}

impl Activity {
    /// The share of the activity inside `[from, to)` and the hours it spent there.
    pub fn share(&self, from: i64, to: i64) -> (f64, f64) {
        let end = self.ended_at.unwrap_or(self.started_at).max(self.started_at);
        if end == self.started_at {
            return if (from..to).contains(&self.started_at) { (1.0, 0.0) } else { (0.0, 0.0) };
        }
        let overlap = (end.min(to) - self.started_at.max(from)).max(0);
        (overlap as f64 / (end - self.started_at) as f64, overlap as f64 / 3_600_000.0)
    }
}

/// The figures of one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Activities, counting a split activity by its share.
    pub activities: f64,
    pub hours: f64,
    /// Contacts or visitors.
    pub contacts: f64,
    pub by_gender: [f64; 4],
    pub by_age: [f64; 6],
}

impl Figures {
    fn add(&mut self, share: f64, hours: f64, genders: &[i64; 4], ages: &[i64; 6]) {
        self.activities += share;
        self.hours += hours;
        for (sum, n) in self.by_gender.iter_mut().zip(genders) {
            *sum += share * *n as f64;
        }
        for (sum, n) in self.by_age.iter_mut().zip(ages) {
            *sum += share * *n as f64;
        }
        self.contacts += share * genders.iter().sum::<i64>() as f64;
    }
}

/// A group's key: one value per dimension, in the order asked for.
pub type Key = Vec<String>;

/// Sums the activities inside `[from, to)` per group of `dimensions`.
pub fn aggregate(activities: &[Activity], from: i64, to: i64, dimensions: &[Dimension]) -> BTreeMap<Key, Figures> {
    let mut groups: BTreeMap<Key, Figures> = BTreeMap::new();
    let split = dimensions.iter().position(|d| matches!(d, Dimension::Gender | Dimension::AgeBand));
    for activity in activities {
        let (share, hours) = activity.share(from, to);
        if share <= 0.0 {
            continue;
        }
        let key = |bucket: &str| -> Key {
            dimensions
                .iter()
                .map(|dimension| match dimension {
                    Dimension::Type => activity.activity_type.clone(),
                    Dimension::Unit => activity.unit.clone(),
                    Dimension::Area => activity.area.clone().unwrap_or_else(|| OUTSIDE.to_owned()),
                    Dimension::Gender | Dimension::AgeBand => bucket.to_owned(),
                })
                .collect()
        };
        match split.map(|at| dimensions[at]) {
            None => groups.entry(key("")).or_default().add(share, hours, &activity.genders, &activity.ages),
            Some(Dimension::Gender) => {
                for (index, bucket) in GENDERS.iter().enumerate() {
                    let n = activity.genders[index];
                    if n > 0 {
                        let mut genders = [0; 4];
                        genders[index] = n;
                        groups.entry(key(bucket)).or_default().add(share, hours, &genders, &[0; 6]);
                    }
                }
            }
            Some(_) => {
                for (index, bucket) in AGE_BANDS.iter().enumerate() {
                    let n = activity.ages[index];
                    if n > 0 {
                        let mut ages = [0; 6];
                        ages[index] = n;
                        // Contacts follow the age tally here: the gender tally cannot be split by age.
                        let figures = groups.entry(key(bucket)).or_default();
                        figures.add(share, hours, &[0; 4], &ages);
                        figures.contacts += share * n as f64;
                    }
                }
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn activity(kind: &str, start: i64, end: Option<i64>, girls: i64, boys: i64) -> Activity {
        Activity {
            activity_type: kind.into(),
            unit: "fritid".into(),
            area: None,
            started_at: start,
            ended_at: end,
            genders: [girls, boys, 0, 0],
            ages: [0, girls + boys, 0, 0, 0, 0],
        }
    }

    #[test]
    fn an_activity_across_the_boundary_is_split_by_time() {
        let a = activity("outreach_shift", 10 * HOUR, Some(14 * HOUR), 4, 4);
        let before = aggregate(std::slice::from_ref(&a), 0, 11 * HOUR, &[]);
        let after = aggregate(std::slice::from_ref(&a), 11 * HOUR, 100 * HOUR, &[]);
        let (b, c) = (&before[&Vec::new()], &after[&Vec::new()]);
        assert_eq!((b.activities, b.hours, b.contacts), (0.25, 1.0, 2.0));
        assert_eq!((c.activities, c.hours, c.contacts), (0.75, 3.0, 6.0));
    }

    #[test]
    fn a_running_activity_counts_at_its_start_without_hours() {
        let a = activity("summer_cafe", 5 * HOUR, None, 1, 2);
        let inside = aggregate(std::slice::from_ref(&a), 0, 6 * HOUR, &[Dimension::Type]);
        assert_eq!(inside[&vec!["summer_cafe".to_owned()]].hours, 0.0);
        assert_eq!(inside[&vec!["summer_cafe".to_owned()]].contacts, 3.0);
        assert!(aggregate(&[a], 6 * HOUR, 9 * HOUR, &[]).is_empty());
    }

    #[test]
    fn grouped_by_gender_rows_hold_that_gender_only() {
        let rows = [activity("summer_cafe", 0, Some(HOUR), 3, 0), activity("summer_cafe", 0, Some(2 * HOUR), 1, 5)];
        let groups = aggregate(&rows, 0, 10 * HOUR, &[Dimension::Type, Dimension::Gender]);
        let girls = &groups[&vec!["summer_cafe".to_owned(), "girls".to_owned()]];
        let boys = &groups[&vec!["summer_cafe".to_owned(), "boys".to_owned()]];
        assert_eq!((girls.activities, girls.hours, girls.contacts), (2.0, 3.0, 4.0));
        assert_eq!((boys.activities, boys.hours, boys.contacts), (1.0, 2.0, 5.0));
    }
}
