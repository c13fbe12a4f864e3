//! Indicators and their values per year and group, and [`summary`]: every indicator of an
//! organisation evaluated against its target, for the API and the follow-up report.

use super::is_unique_violation;
use crate::db::DbConnection;
use crate::db::schema::{indicator_values, indicators};
use crate::domain::indicators::{CheckedValue, Definition, IndicatorSummary, RecordedValue, Stored, TargetRule};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// An indicator as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = indicators, treat_none_as_null = true)]
pub struct IndicatorRow {
    pub id: String,
    pub organisation_id: String,
    pub slug: String,
    pub name_sv: String,
    pub name_en: String,
    pub source: String,
    pub unit: String,
    /// A JSON list of group slugs.
    pub groups: String,
    pub target_kind: String,
    pub target_value: Option<f64>,
    pub higher_is_better: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl IndicatorRow {
    /// A new row for a definition.
    pub fn new(organisation_id: &str, slug: &str, definition: &Definition, now: NaiveDateTime) -> Self {
        let mut row = Self {
            id: uuid::Uuid::now_v7().to_string(),
            organisation_id: organisation_id.to_owned(),
            slug: slug.to_owned(),
            name_sv: String::new(),
            name_en: String::new(),
            source: String::new(),
            unit: String::new(),
            groups: String::new(),
            target_kind: String::new(),
            target_value: None,
            higher_is_better: true,
            created_at: now,
            updated_at: now,
        };
        row.set(definition);
        row
    }

    /// Takes every field of the definition.
    pub fn set(&mut self, definition: &Definition) {
        self.name_sv.clone_from(&definition.name_sv);
        self.name_en.clone_from(&definition.name_en);
        self.source.clone_from(&definition.source);
        self.unit.clone_from(&definition.unit);
        self.groups = serde_json::to_string(&definition.groups).unwrap_or_else(|_| "[]".to_owned());
        self.target_kind = definition.target.kind().to_owned();
        self.target_value = definition.target.value();
        self.higher_is_better = definition.higher_is_better;
    }

    /// The definition the row holds.
    pub fn definition(&self) -> Definition {
        // The CHECK constraint admits only the three kinds, and a threshold is stored with those
        // that take one; a row that says otherwise is read as the default rule.
        let target = TargetRule::parse(&self.target_kind, self.target_value).unwrap_or(TargetRule::MaintainOrImprove);
        Definition {
            name_sv: self.name_sv.clone(),
            name_en: self.name_en.clone(),
            source: self.source.clone(),
            unit: self.unit.clone(),
            groups: serde_json::from_str(&self.groups).unwrap_or_default(),
            target,
            higher_is_better: self.higher_is_better,
        }
    }
}

/// A value as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = indicator_values)]
pub struct IndicatorValueRow {
    pub organisation_id: String,
    pub indicator_id: String,
    pub year: i32,
    /// Empty for the whole population.
    pub group_key: String,
    pub value: f64,
    pub note: Option<String>,
    pub recorded_by: Option<String>,
    pub recorded_at: NaiveDateTime,
}

/// Why an indicator could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    /// The slug is taken in the organisation.
    #[error("an indicator with the slug `{0}` already exists")]
    Duplicate(String),
    /// Storage failed.
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Stores a new indicator.
pub fn insert(conn: &mut DbConnection, row: &IndicatorRow) -> Result<(), IndicatorError> {
    match diesel::insert_into(indicators::table).values(row).execute(conn) {
        Err(error) if is_unique_violation(&error) => Err(IndicatorError::Duplicate(row.slug.clone())),
        other => other.map(drop).map_err(Into::into),
    }
}

/// The indicator with this id in the organisation.
pub fn by_id(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<IndicatorRow>> {
    indicators::table
        .filter(indicators::organisation_id.eq(organisation_id))
        .filter(indicators::id.eq(id))
        .select(IndicatorRow::as_select())
        .first(conn)
        .optional()
}

/// Stores a changed indicator (never its slug or organisation).
pub fn update(conn: &mut DbConnection, row: &IndicatorRow) -> QueryResult<bool> {
    diesel::update(
        indicators::table
            .filter(indicators::organisation_id.eq(&row.organisation_id))
            .filter(indicators::id.eq(&row.id)),
    )
    .set(row)
    .execute(conn)
    .map(|n| n == 1)
}

/// The groups that have values recorded, for the indicator.
pub fn groups_in_use(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Vec<String>> {
    indicator_values::table
        .filter(indicator_values::organisation_id.eq(organisation_id))
        .filter(indicator_values::indicator_id.eq(id))
        .select(indicator_values::group_key)
        .distinct()
        .load(conn)
}

/// Replaces the indicator's values of one year with `values`, in one transaction.
pub fn replace_year(
    conn: &mut DbConnection,
    organisation_id: &str,
    indicator_id: &str,
    year: i32,
    values: &[CheckedValue],
    recorded_by: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let rows: Vec<IndicatorValueRow> = values
        .iter()
        .map(|value| IndicatorValueRow {
            organisation_id: organisation_id.to_owned(),
            indicator_id: indicator_id.to_owned(),
            year,
            group_key: value.group.clone(),
            value: value.value,
            note: value.note.clone(),
            recorded_by: recorded_by.map(str::to_owned),
            recorded_at: now,
        })
        .collect();
    crate::db::write_transaction(conn, |conn| {
        delete_values(conn, organisation_id, indicator_id, year, None)?;
        for row in &rows {
            diesel::insert_into(indicator_values::table).values(row).execute(conn)?;
        }
        touch(conn, organisation_id, indicator_id, now)
    })
}

/// Removes the values of a year (of one group, when given); returns how many went.
pub fn delete_values(
    conn: &mut DbConnection,
    organisation_id: &str,
    indicator_id: &str,
    year: i32,
    group: Option<&str>,
) -> QueryResult<usize> {
    let target = indicator_values::table
        .filter(indicator_values::organisation_id.eq(organisation_id))
        .filter(indicator_values::indicator_id.eq(indicator_id))
        .filter(indicator_values::year.eq(year));
    match group {
        Some(group) => diesel::delete(target.filter(indicator_values::group_key.eq(group))).execute(conn),
        None => diesel::delete(target).execute(conn),
    }
}

/// Marks the indicator as changed now.
pub fn touch(conn: &mut DbConnection, organisation_id: &str, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        indicators::table.filter(indicators::organisation_id.eq(organisation_id)).filter(indicators::id.eq(id)),
    )
    .set(indicators::updated_at.eq(now))
    .execute(conn)
    .map(drop)
}

/// Every indicator of the organisation with its values, evaluated against its target, by slug.
pub fn summary(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<IndicatorSummary>> {
    let rows = indicators::table
        .filter(indicators::organisation_id.eq(organisation_id))
        .order(indicators::slug.asc())
        .select(IndicatorRow::as_select())
        .load(conn)?;
    let values = indicator_values::table
        .filter(indicator_values::organisation_id.eq(organisation_id))
        .select(IndicatorValueRow::as_select())
        .load(conn)?;
    Ok(summarise(rows, values))
}

/// One indicator of the organisation, evaluated; none when there is no such indicator.
pub fn summary_of(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<IndicatorSummary>> {
    let Some(row) = by_id(conn, organisation_id, id)? else { return Ok(None) };
    let values = indicator_values::table
        .filter(indicator_values::organisation_id.eq(organisation_id))
        .filter(indicator_values::indicator_id.eq(id))
        .select(IndicatorValueRow::as_select())
        .load(conn)?;
    Ok(summarise(vec![row], values).pop())
}

fn summarise(rows: Vec<IndicatorRow>, values: Vec<IndicatorValueRow>) -> Vec<IndicatorSummary> {
    let mut by_indicator: HashMap<String, Vec<RecordedValue>> = HashMap::new();
    for value in values {
        by_indicator.entry(value.indicator_id).or_default().push(RecordedValue {
            year: value.year,
            group: Some(value.group_key).filter(|g| !g.is_empty()),
            value: value.value,
            note: value.note,
            recorded_by: value.recorded_by,
            recorded_at: value.recorded_at.and_utc(),
        });
    }
    rows.into_iter()
        .map(|row| {
            let values = by_indicator.remove(&row.id).unwrap_or_default();
            let stored = Stored {
                definition: row.definition(),
                id: row.id,
                slug: row.slug,
                created_at: row.created_at.and_utc(),
                updated_at: row.updated_at.and_utc(),
            };
            IndicatorSummary::build(stored, values)
        })
        .collect()
}
