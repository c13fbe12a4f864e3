//! `lagesbild demo`: a demo organisation with approximate areas, units, users, the indicators of
//! the assignment, and two years of synthetic records up to today, so that every view of the
//! product has something to show.
//!
//! The records enter through the push path of the sync protocol (`sync_push::prepare` and
//! `apply_all`): validated, redacted, given their area, hexagon cell and sequence number exactly
//! as a phone's pushes are. The coordinator's reviews go the same way.

pub mod places;
mod plan;
pub mod records;

use crate::accounts::{self, AccountError, NewUser};
use crate::db::DbConnection;
use crate::db::models::OrganisationRow;
use crate::db::queries::audit::Actor;
use crate::db::queries::indicators::{self as indicator_queries, IndicatorRow};
use crate::db::queries::sync_push;
use crate::db::queries::{areas, organisations, partners, records as record_queries, sync_state};
use crate::domain::identity::{Name, NewPassword, Role, Slug, TimeZone, Username};
use crate::domain::indicators::{CheckedValue, Definition, TargetRule};
use crate::domain::password::Passwords;
use crate::domain::push::{self, PreparedPush, PushContext, RecordResult, Rules, Status, TableChanges};
use crate::domain::records::BoundingBox;
use anyhow::Context;
use chrono::Datelike;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The demo organisation's name ends with this, which is what `--reset` checks before it deletes.
pub const DEMO_MARK: &str = "(demo)";

/// The coordinator who reviews the observations.
const REVIEWER: &str = "samordnare";

/// The most records stored in one transaction.
const RECORDS_PER_TRANSACTION: usize = 5_000;

/// What to create.
pub struct Options {
    pub slug: Slug,
    /// Delete an earlier demo organisation with this slug first.
    pub reset: bool,
    /// One password for every user; by default each gets a generated one.
    pub password: Option<NewPassword>,
    /// Clock tolerance of the push path, as the server is configured.
    pub skew_tolerance_ms: i64,
}

/// What was created.
pub struct Created {
    pub organisation: OrganisationRow,
    /// (user, generated password) in the order of [`places::USERS`]; no password when it
    /// was given.
    pub users: Vec<(&'static places::DemoUser, Option<String>)>,
    pub areas: usize,
    pub indicators: usize,
    /// Problems and measures of the action plan.
    pub plan_items: usize,
    pub observations: usize,
    pub activities: usize,
    pub reviews: usize,
    pub redacted: usize,
    pub first_day: chrono::NaiveDate,
    pub last_day: chrono::NaiveDate,
    /// Removed by `--reset` first.
    pub replaced: bool,
}

/// Creates the demo organisation, or refuses when its slug is taken (unless `reset` and the
/// organisation is an earlier demo).
pub fn create(conn: &mut DbConnection, passwords: &Passwords, options: &Options) -> anyhow::Result<Created> {
    let slug = options.slug.as_str();
    let mut replaced = false;
    if let Some(existing) = organisations::by_slug(conn, slug)? {
        let a_demo = existing.name.ends_with(DEMO_MARK);
        anyhow::ensure!(
            a_demo || !options.reset,
            "the organisation `{slug}` ({}) was not created by `lagesbild demo`; refusing to delete it",
            existing.name
        );
        anyhow::ensure!(
            a_demo,
            "an organisation with the slug `{slug}` ({}) already exists and is not a demo; choose another slug, \
             e.g. `lagesbild demo --org demo`",
            existing.name
        );
        anyhow::ensure!(
            options.reset,
            "the demo `{slug}` already exists; `lagesbild demo --org {slug} --reset` deletes it and creates it anew"
        );
        organisations::remove(conn, &existing.id)
            .with_context(|| format!("cannot delete the earlier demo `{slug}`"))?;
        replaced = true;
    }
    let zone = TimeZone::parse("time-zone", "Europe/Stockholm").map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = Name::parse("name", &format!("Tyresö kommun {DEMO_MARK}")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let organisation = accounts::create_organisation(conn, &options.slug, &name, zone)?;
    let org = organisation.id.as_str();
    let (_, _, [min_lat, min_lon, max_lat, max_lon]) = places::MUNICIPALITY;
    organisations::set_bbox(conn, org, Some(BoundingBox { min_lat, min_lon, max_lat, max_lon }))?;
    organisations::set_heading(
        conn,
        org,
        "Ett socialt hållbart Tyresö för ökad trygghet",
        "Stöd- och servicekontorets chef",
    )?;

    for (slug, name) in places::UNITS {
        let slug = Slug::parse("unit", slug).map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = Name::parse("name", name).map_err(|e| anyhow::anyhow!("{e}"))?;
        accounts::create_unit(conn, org, &slug, &name)?;
    }
    let users = create_users(conn, passwords, org, options.password.as_ref())?;
    let user_ids: HashMap<&str, (String, Role)> =
        users.iter().map(|(user, id, role, _)| (user.username, (id.clone(), *role))).collect();

    tracing::debug!("demo users created");
    let area_count = import_areas(conn, org)?;
    share_areas(conn, org, &user_ids)?;
    let recorded_by = user_ids.get("admin").map(|(id, _)| id.as_str());
    let indicators = load_indicators(conn, org, recorded_by)?;

    let now_ms = chrono::Utc::now().timestamp_millis();
    let tz = chrono_tz::Europe::Stockholm;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let first_day = today - chrono::Months::new(24);
    let generated = records::generate(tz, first_day, now_ms);
    let context = |username: &str| -> anyhow::Result<PushContext> {
        let (user_id, role) = user_ids.get(username).with_context(|| format!("no demo user `{username}`"))?;
        Ok(PushContext {
            organisation_id: org.to_owned(),
            user_id: user_id.clone(),
            role: *role,
            device_id: format!("demo-{username}"),
            cursor: None,
            now_ms,
            clock_skew_ms: None,
            skew_tolerance_ms: options.skew_tolerance_ms,
            pending_count: None,
            photo_rules: crate::domain::attachments::PhotoRules::default(),
        })
    };
    tracing::debug!(records = generated.observations.len() + generated.activities.len(), "demo records generated");
    let rules = crate::db::queries::push_rules::load_rules(conn, org)?;
    let mut stored = Stored::default();
    // Oldest first, a month's worth at a time, like phones that sync as they go.
    let mut by_month: BTreeMap<(i32, u32), Vec<Pending>> = BTreeMap::new();
    let month_of = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms).map_or((0, 0), |at| {
            let local = at.with_timezone(&tz);
            (local.year(), local.month())
        })
    };
    // A reviewer who reported the observation (at a safety walk) pushes it whole, as the app does.
    let reviewers_own: HashMap<String, Value> = generated
        .observations
        .iter()
        .filter(|(reporter, _)| *reporter == REVIEWER)
        .filter_map(|(_, record)| Some((record["id"].as_str()?.to_owned(), record.clone())))
        .collect();
    for (reporter, record) in generated.observations {
        let month = month_of(record["observed_at"].as_i64().unwrap_or_default());
        by_month.entry(month).or_default().push(Pending { table: "observations", reporter, record });
    }
    for (reporter, record) in generated.activities {
        let month = month_of(record["started_at"].as_i64().unwrap_or_default());
        by_month.entry(month).or_default().push(Pending { table: "activity_logs", reporter, record });
    }
    let mut batch: Vec<Pending> = Vec::new();
    for (_, month) in by_month {
        if batch.len() + month.len() > RECORDS_PER_TRANSACTION && !batch.is_empty() {
            stored.add(store(conn, &rules, std::mem::take(&mut batch), &context, false)?);
        }
        batch.extend(month);
    }
    if !batch.is_empty() {
        stored.add(store(conn, &rules, batch, &context, false)?);
    }

    tracing::debug!("demo records stored");
    // The coordinator's reviews, as pushed from the dashboard's device after a pull.
    let cursor = sync_state::read(conn)?.0;
    let reviews: Vec<Pending> = generated
        .reviews
        .iter()
        .map(|(id, status, comment)| {
            let mut raw = reviewers_own.get(id).cloned().unwrap_or_else(|| serde_json::json!({ "id": id }));
            if let Some(map) = raw.as_object_mut() {
                map.insert("status".into(), Value::from(*status));
                if let Some(comment) = comment {
                    map.insert("review_comment".into(), Value::from(*comment));
                }
            }
            Pending { table: "observations", reporter: REVIEWER, record: raw }
        })
        .collect();
    let review_context = |username: &str| -> anyhow::Result<PushContext> {
        Ok(PushContext { cursor: Some(cursor), ..context(username)? })
    };
    let mut reviewed = Stored::default();
    for chunk in reviews.chunks(RECORDS_PER_TRANSACTION) {
        reviewed.add(store(conn, &rules, chunk.to_vec(), &review_context, true)?);
    }
    tracing::debug!("demo reviews stored");
    let coordinator = user_ids.get("samordnare").map(|(id, _)| id.clone());
    let actor = Actor { organisation_id: org.to_owned(), user_id: coordinator, role: "coordinator".to_owned() };
    let plan_items = plan::create(conn, &actor, first_day, today, now_ms)?;
    let redacted = record_queries::count_redacted(conn, org)?;
    Ok(Created {
        users: users
            .into_iter()
            .map(|(user, _, _, password)| (user, options.password.is_none().then_some(password)))
            .collect(),
        areas: area_count,
        indicators,
        plan_items,
        observations: stored.observations,
        activities: stored.activities,
        reviews: reviewed.observations,
        redacted,
        first_day,
        last_day: today,
        replaced,
        organisation,
    })
}

/// A record waiting to be pushed by its reporter.
#[derive(Clone)]
struct Pending {
    table: &'static str,
    reporter: records::Reporter,
    record: Value,
}

#[derive(Default)]
struct Stored {
    observations: usize,
    activities: usize,
}

impl Stored {
    fn add(&mut self, results: Vec<RecordResult>) {
        for result in results {
            match result.table.as_ref() {
                "observations" => self.observations += 1,
                _ => self.activities += 1,
            }
        }
    }
}

/// Stores records as one push per reporter, all in one write transaction under one sequence
/// number, as the server's writer stores the pushes that arrive together. Every record must be
/// applied: anything else is a fault of the generator, reported with the record's reason.
fn store(
    conn: &mut DbConnection,
    rules: &Rules,
    records: Vec<Pending>,
    context: &dyn Fn(&str) -> anyhow::Result<PushContext>,
    updates: bool,
) -> anyhow::Result<Vec<RecordResult>> {
    let mut by_reporter: BTreeMap<&str, BTreeMap<&str, TableChanges>> = BTreeMap::new();
    for Pending { table, reporter, record } in records {
        let changes = by_reporter.entry(reporter).or_default().entry(table).or_default();
        if updates { changes.updated.push(record) } else { changes.created.push(record) }
    }
    let mut pushes: Vec<PreparedPush> = Vec::new();
    for (reporter, tables) in by_reporter {
        let tables = tables.into_iter().map(|(name, changes)| (name.to_owned(), changes)).collect();
        pushes.push(push::prepare(context(reporter)?, tables, rules));
    }
    let results = crate::db::write_transaction(conn, |conn| {
        let seq = sync_state::take(conn)?;
        sync_push::apply_all(conn, seq, &pushes.iter().collect::<Vec<_>>(), &mut Default::default())
    })?;
    let results: Vec<RecordResult> = results.into_iter().flatten().collect();
    if let Some(refused) = results.iter().find(|r| r.status != Status::Applied) {
        anyhow::bail!(
            "a demo record was not stored ({} {} {:?}: {})",
            refused.table,
            refused.id,
            refused.status,
            refused.error.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(results)
}

/// Creates the users; returns each with its id, role and password.
fn create_users(
    conn: &mut DbConnection,
    passwords: &Passwords,
    org: &str,
    password: Option<&NewPassword>,
) -> anyhow::Result<Vec<(&'static places::DemoUser, String, Role, String)>> {
    let mut created = Vec::new();
    for user in places::USERS {
        let text = password.map_or_else(readable_password, |p| p.expose().to_owned());
        let role = Role::parse("role", user.role).map_err(|e| anyhow::anyhow!("{e}"))?;
        let new = NewUser {
            username: Username::parse("username", user.username).map_err(|e| anyhow::anyhow!("{e}"))?,
            display_name: Some(Name::parse("display_name", user.display_name).map_err(|e| anyhow::anyhow!("{e}"))?),
            password: NewPassword::parse("password", &text).map_err(|e| anyhow::anyhow!("{e}"))?,
            role,
            unit: Some(Slug::parse("unit", user.unit).map_err(|e| anyhow::anyhow!("{e}"))?),
        };
        let row = accounts::create_user(conn, passwords, org, new).map_err(|error| match error {
            AccountError::Other(error) => error,
            other => anyhow::anyhow!("{other}"),
        })?;
        created.push((user, row.id, role, text));
    }
    Ok(created)
}

/// A password a person can type from a printout: three groups of four letters and digits
/// (60 bits), without the easily confused l, 1, o and 0.
fn readable_password() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    let chars: Vec<char> = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 31)])).collect();
    chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// Imports the areas as `POST /api/v1/areas` does, and completes the reassignment job.
fn import_areas(conn: &mut DbConnection, org: &str) -> anyhow::Result<usize> {
    use crate::db::queries::area_jobs;
    let lease = area_jobs::Lease::for_this_process(std::time::Duration::from_secs(300));
    let (counts, job) = match areas::import_collection(conn, org, &places::feature_collection(), &lease) {
        Ok(imported) => imported,
        Err(areas::ImportError::Invalid(errors)) => {
            let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::bail!("the demo areas are not valid: {}", problems.join("; "));
        }
        Err(areas::ImportError::Database(error)) => return Err(error.into()),
    };
    if let Some(job) = job {
        area_jobs::run_to_end(conn, job, &lease)?;
    }
    Ok(counts.created + counts.updated + counts.unchanged)
}

/// Shares the partners' areas with them.
fn share_areas(conn: &mut DbConnection, org: &str, users: &HashMap<&str, (String, Role)>) -> anyhow::Result<()> {
    for user in places::USERS.iter().filter(|user| !user.shared_areas.is_empty()) {
        let (user_id, _) = users.get(user.username).with_context(|| format!("no demo user `{}`", user.username))?;
        let codes: Vec<String> = user.shared_areas.iter().map(|code| (*code).to_owned()).collect();
        partners::share(conn, org, user_id, &codes)?;
    }
    Ok(())
}

/// Defines the seven indicators and records the values the assignment states.
fn load_indicators(conn: &mut DbConnection, org: &str, recorded_by: Option<&str>) -> anyhow::Result<usize> {
    let now = crate::db::now();
    for indicator in places::INDICATORS {
        let definition = Definition {
            name_sv: indicator.name_sv.to_owned(),
            name_en: indicator.name_en.to_owned(),
            source: indicator.source.to_owned(),
            unit: indicator.unit.to_owned(),
            groups: indicator.groups.iter().map(|g| (*g).to_owned()).collect(),
            target: TargetRule::MaintainOrImprove,
            higher_is_better: indicator.higher_is_better,
        };
        let row = IndicatorRow::new(org, indicator.slug, &definition, now);
        indicator_queries::insert(conn, &row)?;
        let mut years: BTreeMap<i32, Vec<CheckedValue>> = BTreeMap::new();
        for (year, group, value, note) in indicator.values {
            years.entry(*year).or_default().push(CheckedValue {
                group: (*group).to_owned(),
                value: *value,
                note: note.map(str::to_owned),
            });
        }
        for (year, values) in years {
            indicator_queries::replace_year(conn, org, &row.id, year, &values, recorded_by, now)?;
        }
    }
    Ok(places::INDICATORS.len())
}
