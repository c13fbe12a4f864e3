//! Problems and measures of the action plan: stored whole, each change a new version kept in
//! `plan_history`, each change written to the audit log in the same transaction.

use super::audit::{self, Actor, Event};
use crate::db::DbConnection;
use crate::db::schema::{activity_types, areas, categories, measures, plan_history, problems, units};
use crate::domain::FieldError;
use crate::domain::plan::{Effort, MeasureFields, ProblemFields, TimeWindow};
use diesel::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A problem or a measure as stored, with its version and who made it.
#[derive(Debug, Clone, Serialize)]
pub struct Item<F> {
    pub id: String,
    pub version: i64,
    #[serde(flatten)]
    pub fields: F,
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

/// One version of an item in its history.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: i64,
    pub changed_by: String,
    pub changed_at: i64,
    pub fields: Value,
}

/// Why a change was not stored.
#[derive(Debug)]
pub enum PlanError {
    Invalid(Vec<FieldError>),
    NotFound,
    /// The caller may see the item but not change it.
    Forbidden,
    /// The change was made against `expected`, but the item is at `current` now.
    Conflict {
        expected: i64,
        current: i64,
    },
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for PlanError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error)
    }
}

/// The things an item names, to be checked against what exists.
#[derive(Default)]
pub struct References<'a> {
    pub areas: &'a [String],
    pub categories: &'a [String],
    pub activity_types: &'a [String],
    pub units: &'a [String],
    /// Units a measure is shared with.
    pub shared_with: &'a [String],
    pub problems: &'a [String],
}

/// What the two kinds of items have in common for storing.
pub trait Fields: Serialize + DeserializeOwned + Clone + Send + 'static {
    /// `problem` or `measure`.
    const KIND: &'static str;
    /// The fields checked and normalised.
    fn checked(self) -> Result<Self, Vec<FieldError>>;
    /// What it names.
    fn references(&self) -> References<'_>;
    /// The organisation's items (or the one with `id`), newest first; the one with `id` locked
    /// for update on PostgreSQL when `lock` (SQLite's write transaction excludes other writers).
    fn load(conn: &mut DbConnection, org: &str, id: Option<&str>, lock: bool) -> QueryResult<Vec<Item<Self>>>;
    /// Writes a new item, or the new version of one.
    fn write(conn: &mut DbConnection, org: &str, item: &Item<Self>, new: bool) -> QueryResult<()>;
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

type ProblemRow = (String, String, String, String, String, String, String, String, i64, String, i64, String, i64);

impl Fields for ProblemFields {
    const KIND: &'static str = "problem";

    fn checked(self) -> Result<Self, Vec<FieldError>> {
        ProblemFields::checked(self)
    }

    fn references(&self) -> References<'_> {
        References { areas: &self.areas, categories: &self.categories, ..References::default() }
    }

    fn load(conn: &mut DbConnection, org: &str, id: Option<&str>, lock: bool) -> QueryResult<Vec<Item<Self>>> {
        let query = || {
            let mut query = problems::table.filter(problems::organisation_id.eq(org)).into_boxed();
            if let Some(id) = id {
                query = query.filter(problems::id.eq(id.to_owned()));
            }
            query.order(problems::id.desc()).select((
                problems::id,
                problems::title,
                problems::description,
                problems::source,
                problems::status,
                problems::areas,
                problems::categories,
                problems::time_window,
                problems::version,
                problems::created_by,
                problems::created_at,
                problems::updated_by,
                problems::updated_at,
            ))
        };
        if let (Some(id), DbConnection::Postgres(pg), true) = (id, &mut *conn, lock) {
            problems::table.find((org, id)).select(problems::id).for_update().load::<String>(pg)?;
        }
        let rows: Vec<ProblemRow> = query().load(conn)?;
        Ok(rows
            .into_iter()
            .map(|row| Item {
                id: row.0,
                version: row.8,
                fields: ProblemFields {
                    title: row.1,
                    description: row.2,
                    source: row.3,
                    status: row.4,
                    areas: json_list(&row.5),
                    categories: json_list(&row.6),
                    time_window: serde_json::from_str::<TimeWindow>(&row.7).unwrap_or_default(),
                },
                created_by: row.9,
                created_at: row.10,
                updated_by: row.11,
                updated_at: row.12,
            })
            .collect())
    }

    fn write(conn: &mut DbConnection, org: &str, item: &Item<Self>, new: bool) -> QueryResult<()> {
        let f = &item.fields;
        let values = (
            problems::title.eq(&f.title),
            problems::description.eq(&f.description),
            problems::source.eq(&f.source),
            problems::status.eq(&f.status),
            problems::areas.eq(to_json(&f.areas)),
            problems::categories.eq(to_json(&f.categories)),
            problems::time_window.eq(to_json(&f.time_window)),
            problems::version.eq(item.version),
            problems::updated_by.eq(&item.updated_by),
            problems::updated_at.eq(item.updated_at),
        );
        if new {
            diesel::insert_into(problems::table)
                .values((
                    problems::organisation_id.eq(org),
                    problems::id.eq(&item.id),
                    problems::created_by.eq(&item.created_by),
                    problems::created_at.eq(item.created_at),
                    values,
                ))
                .execute(conn)?;
        } else {
            diesel::update(problems::table.find((org, &item.id))).set(values).execute(conn)?;
        }
        Ok(())
    }
}

impl Fields for MeasureFields {
    const KIND: &'static str = "measure";

    fn checked(self) -> Result<Self, Vec<FieldError>> {
        MeasureFields::checked(self)
    }

    fn references(&self) -> References<'_> {
        References {
            areas: &self.areas,
            categories: &self.categories,
            activity_types: &self.activity_types,
            units: std::slice::from_ref(&self.responsible_unit),
            shared_with: &self.shared_with,
            problems: &self.problems,
        }
    }

    fn load(conn: &mut DbConnection, org: &str, id: Option<&str>, lock: bool) -> QueryResult<Vec<Item<Self>>> {
        let query = || {
            let mut query = measures::table.filter(measures::organisation_id.eq(org)).into_boxed();
            if let Some(id) = id {
                query = query.filter(measures::id.eq(id.to_owned()));
            }
            query.order(measures::id.desc())
        };
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            (String, String, String, String, String, String, String, String, String),
            (String, Option<String>, String, String, i64, String, i64, String, i64, String),
        )> = {
            let columns = (
                (
                    measures::id,
                    measures::title,
                    measures::description,
                    measures::responsible_unit,
                    measures::status,
                    measures::areas,
                    measures::problems,
                    measures::categories,
                    measures::activity_types,
                ),
                (
                    measures::planned_start,
                    measures::planned_end,
                    measures::effort,
                    measures::decision,
                    measures::version,
                    measures::created_by,
                    measures::created_at,
                    measures::updated_by,
                    measures::updated_at,
                    measures::shared_with,
                ),
            );
            if let (Some(id), DbConnection::Postgres(pg), true) = (id, &mut *conn, lock) {
                measures::table.find((org, id)).select(measures::id).for_update().load::<String>(pg)?;
            }
            query().select(columns).load(conn)?
        };
        Ok(rows
            .into_iter()
            .map(|(a, b)| Item {
                id: a.0,
                version: b.4,
                fields: MeasureFields {
                    title: a.1,
                    description: a.2,
                    responsible_unit: a.3,
                    status: a.4,
                    areas: json_list(&a.5),
                    problems: json_list(&a.6),
                    categories: json_list(&a.7),
                    activity_types: json_list(&a.8),
                    shared_with: json_list(&b.9),
                    planned_start: b.0,
                    planned_end: b.1,
                    effort: serde_json::from_str(&b.2).unwrap_or(Effort::OneOff { description: String::new() }),
                    decision: b.3,
                },
                created_by: b.5,
                created_at: b.6,
                updated_by: b.7,
                updated_at: b.8,
            })
            .collect())
    }

    fn write(conn: &mut DbConnection, org: &str, item: &Item<Self>, new: bool) -> QueryResult<()> {
        let f = &item.fields;
        let values = (
            (
                measures::title.eq(&f.title),
                measures::description.eq(&f.description),
                measures::responsible_unit.eq(&f.responsible_unit),
                measures::status.eq(&f.status),
                measures::areas.eq(to_json(&f.areas)),
                measures::problems.eq(to_json(&f.problems)),
                measures::categories.eq(to_json(&f.categories)),
                measures::activity_types.eq(to_json(&f.activity_types)),
                measures::shared_with.eq(to_json(&f.shared_with)),
            ),
            (
                measures::planned_start.eq(&f.planned_start),
                measures::planned_end.eq(&f.planned_end),
                measures::effort.eq(to_json(&f.effort)),
                measures::decision.eq(&f.decision),
                measures::version.eq(item.version),
                measures::updated_by.eq(&item.updated_by),
                measures::updated_at.eq(item.updated_at),
            ),
        );
        if new {
            diesel::insert_into(measures::table)
                .values((
                    measures::organisation_id.eq(org),
                    measures::id.eq(&item.id),
                    measures::created_by.eq(&item.created_by),
                    measures::created_at.eq(item.created_at),
                    values,
                ))
                .execute(conn)?;
        } else {
            diesel::update(measures::table.find((org, &item.id))).set(values).execute(conn)?;
        }
        Ok(())
    }
}

/// Every name in `wanted` that is not in `known`, as field errors `field[index]`.
fn unknown(field: &str, wanted: &[impl AsRef<str>], known: &[String], what: &str, errors: &mut Vec<FieldError>) {
    for (index, name) in wanted.iter().enumerate() {
        if !known.iter().any(|k| k == name.as_ref()) {
            let field = if field == "responsible_unit" { field.to_owned() } else { format!("{field}[{index}]") };
            errors.push(FieldError::new(&field, "unknown_reference", format!("no {what} `{}` here", name.as_ref())));
        }
    }
}

/// Field errors for every area, category, activity type, unit or problem the item names that
/// the organisation does not have (areas that were deleted included).
pub fn check_references(conn: &mut DbConnection, org: &str, refs: &References<'_>) -> QueryResult<Vec<FieldError>> {
    let mut errors = Vec::new();
    if !refs.areas.is_empty() {
        let known: Vec<String> = areas::table
            .filter(areas::organisation_id.eq(org))
            .filter(areas::deleted_at.is_null())
            .filter(areas::code.eq_any(refs.areas))
            .select(areas::code)
            .load(conn)?;
        unknown("areas", refs.areas, &known, "area", &mut errors);
    }
    if !refs.categories.is_empty() {
        let known: Vec<String> = categories::table
            .filter(categories::organisation_id.eq(org))
            .filter(categories::slug.eq_any(refs.categories))
            .select(categories::slug)
            .load(conn)?;
        unknown("categories", refs.categories, &known, "category", &mut errors);
    }
    if !refs.activity_types.is_empty() {
        let known: Vec<String> = activity_types::table
            .filter(activity_types::organisation_id.eq(org))
            .filter(activity_types::slug.eq_any(refs.activity_types))
            .select(activity_types::slug)
            .load(conn)?;
        unknown("activity_types", refs.activity_types, &known, "activity type", &mut errors);
    }
    if !refs.units.is_empty() {
        let known: Vec<String> = units::table
            .filter(units::organisation_id.eq(org))
            .filter(units::slug.eq_any(refs.units))
            .select(units::slug)
            .load(conn)?;
        unknown("responsible_unit", refs.units, &known, "unit", &mut errors);
    }
    if !refs.shared_with.is_empty() {
        let known: Vec<String> = units::table
            .filter(units::organisation_id.eq(org))
            .filter(units::slug.eq_any(refs.shared_with))
            .select(units::slug)
            .load(conn)?;
        unknown("shared_with", refs.shared_with, &known, "unit", &mut errors);
    }
    if !refs.problems.is_empty() {
        let known: Vec<String> = problems::table
            .filter(problems::organisation_id.eq(org))
            .filter(problems::id.eq_any(refs.problems))
            .select(problems::id)
            .load(conn)?;
        unknown("problems", refs.problems, &known, "problem", &mut errors);
    }
    Ok(errors)
}

/// Every item of the organisation, newest first.
pub fn list<F: Fields>(conn: &mut DbConnection, org: &str) -> QueryResult<Vec<Item<F>>> {
    F::load(conn, org, None, false)
}

/// One item.
pub fn get<F: Fields>(conn: &mut DbConnection, org: &str, id: &str) -> QueryResult<Option<Item<F>>> {
    Ok(F::load(conn, org, Some(id), false)?.pop())
}

/// What a change is: a new item from a whole body, or a change merged into an existing one
/// (made against `expected_version` when the client says so).
pub enum Change {
    Create(Value),
    Update { id: String, change: Map<String, Value>, expected_version: Option<i64> },
}

/// Stores a new item or a new version of one, its history entry and its audit entry, in one
/// write transaction.
pub fn save<F: Fields>(
    conn: &mut DbConnection,
    actor: &Actor,
    change: Change,
    now_ms: i64,
) -> Result<Item<F>, PlanError> {
    save_if(conn, actor, change, |_, _| Ok(()), now_ms)
}

/// [`save`], where a change to an existing item is made only if `allowed` says so of the item
/// as it is (reading more on the same connection if it needs to), read and locked in the same transaction (so what it checks cannot change before the
/// change is written).
pub fn save_if<F: Fields>(
    conn: &mut DbConnection,
    actor: &Actor,
    change: Change,
    allowed: impl FnOnce(&mut DbConnection, &Item<F>) -> Result<(), PlanError>,
    now_ms: i64,
) -> Result<Item<F>, PlanError> {
    let org = actor.organisation_id.clone();
    let user = actor.user_id.clone().unwrap_or_default();
    crate::db::write_transaction(conn, |conn| {
        let (item, new) = match change {
            Change::Create(body) => {
                let fields = crate::domain::plan::read::<F>(body).map_err(|e| PlanError::Invalid(vec![e]))?;
                let item = Item {
                    id: uuid::Uuid::now_v7().to_string(),
                    version: 1,
                    fields,
                    created_by: user.clone(),
                    created_at: now_ms,
                    updated_by: user.clone(),
                    updated_at: now_ms,
                };
                (item, true)
            }
            Change::Update { id, change, expected_version } => {
                let current = F::load(conn, &org, Some(&id), true)?.pop().ok_or(PlanError::NotFound)?;
                allowed(conn, &current)?;
                if let Some(expected) = expected_version.filter(|expected| *expected != current.version) {
                    return Err(PlanError::Conflict { expected, current: current.version });
                }
                let body = crate::domain::plan::merged(&current.fields, change);
                let fields = crate::domain::plan::read::<F>(body).map_err(|e| PlanError::Invalid(vec![e]))?;
                let item = Item {
                    version: current.version + 1,
                    fields,
                    updated_by: user.clone(),
                    updated_at: now_ms,
                    ..current
                };
                (item, false)
            }
        };
        let fields = item.fields.clone().checked().map_err(PlanError::Invalid)?;
        let refused = check_references(conn, &org, &fields.references())?;
        if !refused.is_empty() {
            return Err(PlanError::Invalid(refused));
        }
        let item = Item { fields, ..item };
        F::write(conn, &org, &item, new)?;
        diesel::insert_into(plan_history::table)
            .values((
                plan_history::organisation_id.eq(&org),
                plan_history::kind.eq(F::KIND),
                plan_history::item_id.eq(&item.id),
                plan_history::version.eq(item.version),
                plan_history::body.eq(to_json(&item.fields)),
                plan_history::changed_by.eq(&user),
                plan_history::changed_at.eq(now_ms),
            ))
            .execute(conn)?;
        let mut filters = Map::new();
        filters.insert("id".to_owned(), Value::String(item.id.clone()));
        filters.insert("version".to_owned(), Value::from(item.version));
        let action = format!("plan.{}.{}", F::KIND, if new { "create" } else { "update" });
        audit::record_complete(conn, actor, Event { action: &action, format: None, filters }, 1, now_ms)?;
        Ok(item)
    })
}

/// Every version of an item, oldest first; `None` when there is no such item.
pub fn history<F: Fields>(conn: &mut DbConnection, org: &str, id: &str) -> QueryResult<Option<Vec<Version>>> {
    if get::<F>(conn, org, id)?.is_none() {
        return Ok(None);
    }
    let rows: Vec<(i64, String, i64, String)> = plan_history::table
        .filter(plan_history::organisation_id.eq(org))
        .filter(plan_history::kind.eq(F::KIND))
        .filter(plan_history::item_id.eq(id))
        .order(plan_history::version.asc())
        .select((plan_history::version, plan_history::changed_by, plan_history::changed_at, plan_history::body))
        .load(conn)?;
    Ok(Some(
        rows.into_iter()
            .map(|(version, changed_by, changed_at, body)| Version {
                version,
                changed_by,
                changed_at,
                fields: serde_json::from_str(&body).unwrap_or(Value::Null),
            })
            .collect(),
    ))
}

/// The organisation's observations of `categories` (every category when empty) observed in
/// `[from, to)`, counted per area code (`None`: outside every area) and category, tombstones
/// left out.
pub fn observation_counts(
    conn: &mut DbConnection,
    org: &str,
    categories: &[String],
    from: i64,
    to: i64,
) -> QueryResult<Vec<(Option<String>, String, i64)>> {
    use crate::db::schema::observations;
    use diesel::dsl::count_star;
    let mut query = observations::table
        .filter(observations::organisation_id.eq(org))
        .filter(observations::deleted_at.is_null())
        .filter(observations::observed_at.ge(from))
        .filter(observations::observed_at.lt(to))
        .group_by((observations::area_code, observations::category))
        .select((observations::area_code, observations::category, count_star()))
        .into_boxed();
    if !categories.is_empty() {
        query = query.filter(observations::category.eq_any(categories.to_vec()));
    }
    query.load(conn)
}

/// The slug of the unit a user belongs to, if any.
pub fn unit_of(conn: &mut DbConnection, org: &str, user_id: &str) -> QueryResult<Option<String>> {
    use crate::db::schema::users;
    users::table
        .inner_join(units::table.on(units::id.nullable().eq(users::unit_id)))
        .filter(users::organisation_id.eq(org))
        .filter(users::id.eq(user_id))
        .select(units::slug)
        .first(conn)
        .optional()
}
