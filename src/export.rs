//! `lagesbild export`: the API's exports written to a file from the command line, with a
//! progress bar on a terminal, each noted in the audit log as done by the command line.

use crate::db::DbConnection;
use crate::db::queries::audit::{self, Actor, Event};
use crate::db::queries::reports::{self as report_queries, ActivityFilter, ObservationFilter};
use crate::db::queries::{areas as area_queries, organisations};
use crate::domain::activity::parse_dimensions;
use crate::domain::period::Period;
use crate::picture::scope::Scope;
use crate::reports::Lang;
use crate::reports::activity_report::{Compare, Report, Request};
use crate::reports::observations::{Export, Format, describe_filters};
use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Activity counts per group in a period, beside the comparison period.
    Activity {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
        /// 2024-T2, 2024-06, 2024-Q2, 2024 or 2024-05-01..2024-08-31.
        #[arg(long)]
        period: String,
        /// Comma-separated: type, unit, area, gender, age_band.
        #[arg(long, default_value = "type")]
        group_by: String,
        /// last_year, previous or none.
        #[arg(long, default_value = "last_year")]
        compare: String,
        /// How and where to write it; `--format` is csv, xlsx or json.
        #[command(flatten)]
        out: Output,
    },
    /// Every matching observation.
    Observations {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
        /// A period; without one, every observation.
        #[arg(long)]
        period: Option<String>,
        /// An area code: the area and the areas inside it.
        #[arg(long)]
        area: Option<String>,
        /// Category slugs, comma-separated.
        #[arg(long)]
        category: Option<String>,
        /// How and where to write it; `--format` is csv, xlsx or geojson.
        #[command(flatten)]
        out: Output,
    },
}

/// What every export command takes about its file.
#[derive(clap::Args, Debug)]
pub struct Output {
    /// csv or xlsx; and json for `activity`, geojson for `observations`.
    #[arg(long, default_value = "csv")]
    format: String,
    /// comma, or semicolon with decimal commas (Swedish Excel).
    #[arg(long, default_value = "comma")]
    sep: String,
    /// sv or en.
    #[arg(long, default_value = "sv")]
    lang: String,
    /// The file to write; `-` writes to standard output.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

fn parse_lang(text: &str) -> anyhow::Result<Lang> {
    Lang::parse(Some(text)).context("--lang: use sv or en")
}

fn parse_period(text: &str) -> anyhow::Result<Period> {
    Period::parse("period", text).map_err(|e| anyhow::anyhow!("--period: {}", e.message))
}

fn cli_actor(organisation_id: &str) -> Actor {
    Actor { organisation_id: organisation_id.to_owned(), user_id: None, role: "cli".to_owned() }
}

/// Where an export went, for the closing message.
fn destination(path: &std::path::Path) -> String {
    if is_stdout(path) { "standard output".to_owned() } else { path.display().to_string() }
}

fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes to a temporary file beside `path` and moves it into place when complete, so a failed
/// export never leaves a partial file under the name asked for. `-` is standard output: the
/// complete file is copied there once written.
fn write_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::fs::File) -> anyhow::Result<u64>,
) -> anyhow::Result<u64> {
    if is_stdout(path) {
        let mut file = tempfile::tempfile().context("cannot create a temporary file")?;
        let rows = write(&mut file)?;
        std::io::Seek::rewind(&mut file)?;
        let mut stdout = std::io::stdout().lock();
        std::io::copy(&mut file, &mut stdout).context("cannot write to standard output")?;
        stdout.flush()?;
        return Ok(rows);
    }
    let directory = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(directory)
        .with_context(|| format!("cannot write in {}", directory.display()))?;
    let rows = write(file.as_file_mut())?;
    file.as_file_mut().flush()?;
    file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(rows)
}

/// Runs one export command.
pub fn run(conn: &mut DbConnection, command: ExportCommand) -> anyhow::Result<()> {
    match command {
        ExportCommand::Activity { org, period, group_by, compare, out: Output { format, sep, lang, output } } => {
            let organisation =
                organisations::by_slug(conn, &org)?.with_context(|| format!("there is no organisation `{org}`"))?;
            let period = parse_period(&period)?;
            let dimensions =
                parse_dimensions(Some(&group_by)).map_err(|e| anyhow::anyhow!("--group-by: {}", e.message))?;
            let compare = Compare::parse(Some(&compare)).context("--compare: use last_year, previous or none")?;
            let lang = parse_lang(&lang)?;
            let format = match Format::parse(Some(&format), Some(&sep)) {
                Ok(Format::GeoJson) => anyhow::bail!("--format: use csv, xlsx or json"),
                Ok(format) => Some(format),
                Err(_) if format == "json" => None,
                Err(("format", _)) => anyhow::bail!("--format: use csv, xlsx or json"),
                Err((field, message)) => anyhow::bail!("--{field}: {message}"),
            };
            let (_, tz, _) = organisations::report_settings(conn, &organisation.id)?;
            let now = chrono::Utc::now().timestamp_millis();
            let request = Request {
                period,
                dimensions,
                compare,
                filter: ActivityFilter::default(),
                areas: None,
                suppress_below: None,
                lang,
            };
            let report = Report::load(conn, &organisation.id, request, tz, now)?;
            let rows = report.rows(&report.request.dimensions).len();
            write_atomically(&output, |file| {
                match format {
                    Some(Format::Csv { semicolon }) => report.write_csv(file, semicolon)?,
                    Some(_) => file.write_all(&report.xlsx()?)?,
                    None => serde_json::to_writer_pretty(&mut *file, &report.json())?,
                }
                Ok(0)
            })?;
            let mut filters = Map::new();
            filters.insert("period".into(), json!(period.to_string()));
            filters.insert("group_by".into(), json!(group_by));
            filters.insert("compare".into(), json!(compare.as_str()));
            let format_name = format.map_or("json", Format::name);
            let event = Event { action: "export.activity", format: Some(format_name), filters };
            audit::record_complete(conn, &cli_actor(&organisation.id), event, rows, now)?;
            eprintln!("{org}: {rows} group(s) for {period} written to {}", destination(&output));
            Ok(())
        }
        ExportCommand::Observations { org, period, area, category, out: Output { format, sep, lang, output } } => {
            let organisation =
                organisations::by_slug(conn, &org)?.with_context(|| format!("there is no organisation `{org}`"))?;
            let period = period.as_deref().map(parse_period).transpose()?;
            let format = Format::parse(Some(&format), Some(&sep)).map_err(|(field, message)| match field {
                "format" => anyhow::anyhow!("--format: use csv, xlsx or geojson"),
                _ => anyhow::anyhow!("--{field}: {message}"),
            })?;
            anyhow::ensure!(
                format != Format::Zip,
                "--format: the ZIP with the photos comes from the server (GET /api/v1/exports/observations?format=zip); \
                 here use csv, xlsx or geojson"
            );
            let lang = parse_lang(&lang)?;
            let (_, tz, _) = organisations::report_settings(conn, &organisation.id)?;
            let areas = match area.as_deref() {
                Some(code) => {
                    let tree = area_queries::tree(conn, &organisation.id)?;
                    let selection = Scope::everything()
                        .selection(&tree, Some(code))
                        .map_err(|_| anyhow::anyhow!("--area: there is no area `{code}`"))?;
                    let mut codes: Vec<String> = selection.areas.unwrap_or_default().into_iter().collect();
                    codes.sort();
                    Some(codes)
                }
                None => None,
            };
            let (from, to) = match period {
                Some(period) => {
                    let (from, to) = period.bounds_ms(tz);
                    (Some(from), Some(to))
                }
                None => (None, None),
            };
            let categories: Vec<String> = category
                .as_deref()
                .map(|c| c.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default();
            let known: Vec<String> = crate::db::queries::reference::list(
                conn,
                crate::domain::sync::SyncedTable::Categories,
                &organisation.id,
            )?
            .into_iter()
            .map(|row| row.slug)
            .collect();
            if let Some(unknown) = categories.iter().find(|slug| !known.contains(slug)) {
                anyhow::bail!("--category: there is no category `{unknown}`; the categories are {}", known.join(", "));
            }
            let filter = ObservationFilter { from, to, categories, statuses: Vec::new(), areas };
            let mut described = Map::new();
            described.insert("period".into(), json!(period.map(|p| p.to_string())));
            described.insert("area".into(), json!(area));
            described.insert("category".into(), json!(filter.categories));
            let labels = report_queries::labels(conn, &organisation.id)?;
            let total = report_queries::count_observations(conn, &organisation.id, &filter)?;
            let now = chrono::Utc::now().timestamp_millis();
            let event =
                Event { action: "export.observations", format: Some(format.name()), filters: described.clone() };
            let audit_id = audit::record(conn, &cli_actor(&organisation.id), event, now)?;
            let bar = if std::io::stderr().is_terminal() {
                let bar = ProgressBar::new(u64::try_from(total).unwrap_or_default());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} rows ({per_sec}, {eta} left)")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            } else {
                ProgressBar::hidden()
            };
            let export = Export {
                organisation_id: &organisation.id,
                filter: &filter,
                tz,
                lang,
                labels: &labels,
                photo_base: "",
            };
            let filters = describe_filters(&Value::Object(described));
            let mut progress = |done: u64| bar.set_position(done);
            let rows = write_atomically(&output, |file| {
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
                let rows = match format {
                    Format::Csv { semicolon } => export.csv(conn, semicolon, &mut out, &mut progress)?,
                    Format::GeoJson => export.geojson(conn, &mut out, &mut progress)?,
                    Format::Xlsx => {
                        let file = out.into_inner().map_err(|e| e.into_error())?;
                        return export.xlsx(conn, file, &filters, &mut progress);
                    }
                    Format::Zip => anyhow::bail!("the ZIP export comes from the server"),
                };
                out.flush()?;
                Ok(rows)
            })?;
            bar.finish_and_clear();
            audit::finish(
                conn,
                &audit_id,
                usize::try_from(rows).unwrap_or(usize::MAX),
                chrono::Utc::now().timestamp_millis(),
            )?;
            eprintln!("{org}: {rows} observation(s) written to {}", destination(&output));
            Ok(())
        }
    }
}
