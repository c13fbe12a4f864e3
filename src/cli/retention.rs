//! `lagesbild retention`: show, set and run an organisation's retention periods.

use super::admin::organisation_id;
use crate::db::DbConnection;
use crate::db::queries::audit::Actor;
use crate::db::queries::{organisations, retention};
use crate::domain::retention::{MAX_MONTHS, Policy};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Show an organisation's retention periods and when they were last applied.
    Show {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
    },
    /// Set retention periods, in months (`keep`: keep that kind of data). Periods not named stay.
    Set {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
        /// Notes and review comments are emptied after this many months.
        #[arg(long, value_name = "MONTHS|keep", value_parser = months)]
        free_text_months: Option<Months>,
        /// Exact positions are coarsened (to the area and a hexagon of about 0.7 km²) after this.
        #[arg(long, value_name = "MONTHS|keep", value_parser = months)]
        position_months: Option<Months>,
        /// Earlier versions of records are removed this long after they were replaced.
        #[arg(long, value_name = "MONTHS|keep", value_parser = months)]
        history_months: Option<Months>,
        /// Audit entries are removed after this many months.
        #[arg(long, value_name = "MONTHS|keep", value_parser = months)]
        audit_months: Option<Months>,
        /// Photos of observations older than this many months are removed (the observations stay).
        #[arg(long, value_name = "MONTHS|keep", value_parser = months)]
        photo_months: Option<Months>,
    },
    /// Apply the periods now: to one organisation, or to every one that has some. Each run is
    /// written to the organisation's audit log.
    Run {
        /// The organisation's slug (default: every organisation with retention periods).
        #[arg(long)]
        org: Option<String>,
        /// Only count what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// A period on the command line: a number of months, or `keep`.
#[derive(Debug, Clone, Copy)]
pub struct Months(Option<u32>);

fn months(text: &str) -> Result<Months, String> {
    if text.eq_ignore_ascii_case("keep") {
        return Ok(Months(None));
    }
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_MONTHS).contains(n))
        .map(|n| Months(Some(n)))
        .ok_or_else(|| format!("give a number of months from 1 to {MAX_MONTHS}, or `keep`"))
}

fn describe(months: Option<u32>) -> String {
    months.map_or_else(|| "kept".to_owned(), |n| format!("{n} month(s)"))
}

fn print_policy(slug: &str, policy: &Policy, last_run_at: Option<i64>) {
    println!("{slug}:");
    println!("  free text:  {}", describe(policy.free_text_months));
    println!("  positions:  {}", describe(policy.position_months));
    println!("  history:    {}", describe(policy.history_months));
    println!("  audit log:  {}", describe(policy.audit_months));
    println!("  photos:     {}", describe(policy.photo_months));
    let last = last_run_at
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    println!("  last run:   {last}");
}

pub(super) fn administer(conn: &mut DbConnection, command: RetentionCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    match command {
        RetentionCommand::Show { org } => {
            let id = organisation_id(conn, &org)?;
            let row = retention::get(conn, &id)?;
            print_policy(
                &org,
                &row.as_ref().map(|row| row.policy()).unwrap_or_default(),
                row.and_then(|r| r.last_run_at),
            );
        }
        RetentionCommand::Set {
            org,
            free_text_months,
            position_months,
            history_months,
            audit_months,
            photo_months,
        } => {
            let id = organisation_id(conn, &org)?;
            let current = retention::get(conn, &id)?.map(|row| row.policy()).unwrap_or_default();
            let or = |given: Option<Months>, current: Option<u32>| given.map_or(current, |Months(n)| n);
            let policy = Policy {
                free_text_months: or(free_text_months, current.free_text_months),
                position_months: or(position_months, current.position_months),
                history_months: or(history_months, current.history_months),
                audit_months: or(audit_months, current.audit_months),
                photo_months: or(photo_months, current.photo_months),
            };
            let actor = Actor { organisation_id: id.clone(), user_id: None, role: "cli".to_owned() };
            let row = crate::db::write_transaction(conn, |conn| {
                let row = retention::set(conn, &id, &policy, None, now)?;
                retention::audit_settings(conn, &actor, &policy, now)?;
                Ok::<_, diesel::result::Error>(row)
            })?;
            print_policy(&org, &row.policy(), row.last_run_at);
        }
        RetentionCommand::Run { org, dry_run } => {
            let targets: Vec<(String, String)> = match org {
                Some(slug) => vec![(organisation_id(conn, &slug)?, slug)],
                None => {
                    let mut targets = Vec::new();
                    for row in retention::all(conn)? {
                        if !row.policy().keeps_everything() {
                            let slug = organisations::by_id(conn, &row.organisation_id)?.slug;
                            targets.push((row.organisation_id, slug));
                        }
                    }
                    targets
                }
            };
            if targets.is_empty() {
                println!("no organisation has retention periods: nothing to do");
            }
            for (id, slug) in targets {
                let policy = retention::get(conn, &id)?.map(|row| row.policy()).unwrap_or_default();
                let actor = Actor { organisation_id: id, user_id: None, role: "cli".to_owned() };
                let purge = retention::run(conn, &actor, &policy, now, dry_run, crate::picture::darkness)?;
                println!("{slug}: {}", if dry_run { "would remove (dry run)" } else { "removed" });
                if let serde_json::Value::Object(counts) = serde_json::to_value(&purge)? {
                    for (what, n) in counts.iter().filter(|(what, _)| *what != "dry_run") {
                        println!("  {what}: {n}");
                    }
                }
            }
        }
    }
    Ok(())
}
