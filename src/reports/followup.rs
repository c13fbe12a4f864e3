//! The printable follow-up report: one HTML document (A4 print stylesheet, Swedish or English)
//! with the assignment, the assessment, the indicators against their targets, the activity
//! counts beside the comparison period, the area picture and a heat-map figure drawn here as SVG.
//!
//! Every figure sits in an element with a `data-value` attribute holding the plain number, so a
//! reader (or a test) can check it without parsing the localised text.

use super::activity_report::{Report, Row, bucket_label, dimension_header};
use super::figure::Outline;
use super::{Lang, escape};
use crate::db::queries::assessments::Assessment;
use crate::domain::activity::{AGE_BANDS, Dimension, GENDERS};
use crate::domain::period::Period;
use crate::domain::time::rfc3339_ms;
use crate::picture::view::{AreaTable, Heatmap};
use chrono_tz::Tz;
use std::fmt::Write as _;

/// One indicator line: a group's latest value against the target.
#[derive(Debug, Clone, Default)]
pub struct IndicatorLine {
    pub name: String,
    pub source: String,
    pub group: Option<String>,
    pub unit: String,
    pub target: String,
    pub latest_year: Option<i32>,
    pub latest: Option<f64>,
    pub previous: Option<f64>,
    /// improved, unchanged, worsened or no_data.
    pub trend: String,
    pub meets_target: Option<bool>,
}

/// One measure of the action plan that ran during the period.
#[derive(Debug, Clone, Default)]
pub struct MeasureLine {
    pub id: String,
    pub title: String,
    /// The responsible unit's name.
    pub responsible: String,
    pub areas: Vec<String>,
    /// planned, ongoing, done or stopped.
    pub status: String,
    /// Hours planned within the period; `None` for a one-off.
    pub planned_hours: Option<f64>,
    /// Hours delivered within the period.
    pub delivered_hours: f64,
    /// The effect's verdict (decrease, increase, no_clear_change, too_few_to_tell, not_started).
    pub verdict: String,
    /// The change in per cent with its 95 % interval, when it can be told.
    pub change: Option<(f64, f64, f64)>,
    /// The titles of the problems it addresses.
    pub problems: Vec<String>,
    pub planned_start: String,
    pub planned_end: Option<String>,
    pub effort: Option<crate::domain::plan::Effort>,
    /// The decision it came from.
    pub decision: String,
}

/// Everything the report shows.
pub struct FollowUp<'a> {
    pub lang: Lang,
    pub tz: Tz,
    pub organisation: &'a str,
    pub title: &'a str,
    pub responsible: &'a str,
    pub period: Period,
    pub assessment: Option<&'a Assessment>,
    pub indicators: &'a [IndicatorLine],
    /// The measures that ran during the period.
    pub measures: &'a [MeasureLine],
    /// The activity report grouped by type, compared with the same period last year.
    pub activity: &'a Report,
    /// The area table of the period, as `GET /api/v1/picture` answers it.
    pub picture: &'a AreaTable,
    /// The heat map of the period, as `GET /api/v1/heatmap` answers it.
    pub heatmap: &'a Heatmap,
    pub outlines: &'a [Outline],
    /// The base map drawn under the heat map, when one is configured.
    pub basemap: Option<&'a crate::basemap::BaseMap>,
    pub generated_at: i64,
}

/// A number as the language writes it: decimal comma and spaced thousands in Swedish.
pub fn number(lang: Lang, x: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, x.abs());
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(if lang == Lang::Sv { '\u{a0}' } else { ',' });
        }
        grouped.push(digit);
    }
    let sign = if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') { "−" } else { "" };
    match fraction {
        Some(f) if !f.chars().all(|c| c == '0') => {
            format!("{sign}{grouped}{}{}", if lang == Lang::Sv { ',' } else { '.' }, f.trim_end_matches('0'))
        }
        _ => format!("{sign}{grouped}"),
    }
}

/// A table cell holding a number (or a dash for none).
pub(crate) fn figure(lang: Lang, x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(x) => format!("<td class=\"n\" data-value=\"{x}\">{}</td>", number(lang, x, decimals)),
        None => "<td class=\"n\" data-value=\"\">–</td>".to_owned(),
    }
}

/// A change in percent with its sign.
fn change_cell(lang: Lang, pct: Option<f64>) -> String {
    match pct {
        Some(p) => {
            let sign = if p > 0.0 { "+" } else { "" };
            format!("<td class=\"n\" data-value=\"{p}\">{sign}{}&#8239;%</td>", number(lang, p, 1))
        }
        None => "<td class=\"n\" data-value=\"\">–</td>".to_owned(),
    }
}

fn pct(now: f64, before: f64) -> Option<f64> {
    (before > 0.0).then(|| round2((now - before) / before * 100.0))
}

pub(crate) const STYLE: &str = r#"
@page { size: A4; margin: 18mm 16mm 20mm; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", system-ui, -apple-system, "Helvetica Neue", Arial, sans-serif; color: #1b1f24; line-height: 1.4; margin: 0 auto; max-width: 190mm; padding: 12px; font-size: 10.5pt; }
p.note { font-size: 9pt; color: #4a5360; margin: 0.3em 0 0; }
header { border-bottom: 3px solid #1d4f7c; margin-bottom: 12px; padding-bottom: 8px; }
h1 { font-size: 20pt; margin: 0 0 4px; color: #1d4f7c; }
h2 { font-size: 14pt; margin: 20px 0 6px; color: #1d4f7c; break-after: avoid; }
h3 { font-size: 11pt; margin: 12px 0 4px; break-after: avoid; }
p.meta { margin: 2px 0; color: #424a53; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 10px; break-inside: auto; font-size: 9pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { border-bottom: 1px solid #d0d7de; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; }
#indicators td:first-child { width: 45%; }
.source { font-size: 8pt; color: #57606a; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.n { white-space: nowrap; }
tfoot td { font-weight: 600; border-top: 2px solid #1b1f24; }
.rating { display: inline-block; padding: 3px 12px; border-radius: 12px; font-weight: 700; color: #fff; }
.rating.green { background: #1a7f37; } .rating.yellow { background: #9a6700; } .rating.red { background: #cf222e; }
.yes { color: #1a7f37; font-weight: 600; } .no { color: #cf222e; font-weight: 600; }
figure { margin: 8px 0; break-inside: avoid; }
figure svg { width: 100%; height: auto; border: 1px solid #d0d7de; background: #fbfcfd; }
figcaption { font-size: 9pt; color: #424a53; margin-top: 4px; }
.legend .class { white-space: nowrap; margin-left: 6px; }
.legend i { display: inline-block; width: 14px; height: 10px; margin: 0 3px 0 0; vertical-align: middle; border: 1px solid #999; }
footer { margin-top: 18px; border-top: 1px solid #d0d7de; padding-top: 6px; font-size: 8.5pt; color: #57606a; }
@media print { body { padding: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
"#;

impl FollowUp<'_> {
    pub(crate) fn t(&self, sv: &'static str, en: &'static str) -> &'static str {
        self.lang.pick(sv, en)
    }

    /// The whole document.
    pub fn render(&self) -> String {
        let lang = self.lang;
        let mut html = String::with_capacity(64 * 1024);
        let (first, last) = (self.period.first, self.period.last);
        let heading = if self.title.trim().is_empty() { self.t("Uppföljning", "Follow-up") } else { self.title };
        let _ = writeln!(
            html,
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} – {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>",
            self.t("sv", "en"),
            escape(heading),
            self.period,
            escape(heading),
        );
        let _ = writeln!(
            html,
            "<p class=\"meta\">{} <strong id=\"period\" data-value=\"{}\">{}</strong> ({} – {})</p>",
            self.t("Uppföljning för", "Follow-up for"),
            self.period,
            self.period,
            first.format("%Y-%m-%d"),
            last.format("%Y-%m-%d"),
        );
        if !self.responsible.trim().is_empty() {
            let _ = writeln!(
                html,
                "<p class=\"meta\">{}: <span id=\"responsible\">{}</span></p>",
                self.t("Ansvarig", "Responsible"),
                escape(self.responsible)
            );
        }
        let _ = writeln!(html, "<p class=\"meta\">{}</p>\n</header>\n<main>", escape(self.organisation));
        self.assessment_section(&mut html);
        self.indicator_section(&mut html);
        self.activity_section(&mut html);
        self.measure_section(&mut html);
        self.area_section(&mut html);
        self.heatmap_section(&mut html);
        let _ = writeln!(
            html,
            "</main>\n<footer>{} {} ({}). {}</footer>\n</body>\n</html>",
            self.t("Skapad", "Generated"),
            local_time(self.tz, self.generated_at),
            self.tz.name(),
            self.t(
                "Siffrorna kommer från lägesbildens registreringar; en aktivitet som går över periodens gräns räknas med sin andel av tiden.",
                "The figures come from the records in lagesbild; an activity crossing the period's boundary counts with its share of the time."
            ),
        );
        let _ = lang;
        html
    }

    fn assessment_section(&self, html: &mut String) {
        let _ = writeln!(html, "<section id=\"assessment\">\n<h2>{}</h2>", self.t("Bedömning", "Assessment"));
        match self.assessment {
            Some(a) => {
                let label = match (a.rating.as_str(), self.lang) {
                    ("green", Lang::Sv) => "Grönt",
                    ("yellow", Lang::Sv) => "Gult",
                    ("red", Lang::Sv) => "Rött",
                    ("green", Lang::En) => "Green",
                    ("yellow", Lang::En) => "Yellow",
                    _ if self.lang == Lang::Sv => "Rött",
                    _ => "Red",
                };
                let _ = writeln!(
                    html,
                    "<p><span class=\"rating {}\" data-value=\"{}\">{label}</span></p>\n<p class=\"comment\">{}</p>\n<p class=\"meta\">{} {} {}</p>",
                    escape(&a.rating),
                    escape(&a.rating),
                    escape(&a.comment).replace('\n', "<br>"),
                    self.t("Satt av", "Set by"),
                    escape(&a.set_by_name),
                    local_time(self.tz, a.set_at),
                );
            }
            None => {
                let _ = writeln!(
                    html,
                    "<p>{}</p>",
                    self.t(
                        "Ingen bedömning är gjord för perioden ännu.",
                        "No assessment has been made for the period yet."
                    )
                );
            }
        }
        html.push_str("</section>\n");
    }

    pub(crate) fn indicator_section(&self, html: &mut String) {
        let _ = writeln!(html, "<section id=\"indicators\">\n<h2>{}</h2>", self.t("Indikatorer", "Indicators"));
        if self.indicators.is_empty() {
            let _ = writeln!(
                html,
                "<p>{}</p>\n</section>",
                self.t("Inga indikatorer är registrerade.", "No indicators are recorded.")
            );
            return;
        }
        let _ = writeln!(
            html,
            "<table>\n<thead><tr><th>{}</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>",
            self.t("Indikator (källa)", "Indicator (source)"),
            self.t("Mål", "Target"),
            self.t("År", "Year"),
            self.t("Senaste", "Latest"),
            self.t("Föregående", "Previous"),
            self.t("Utveckling", "Trend"),
            self.t("Når målet", "Meets target"),
        );
        for line in self.indicators {
            let name = match line.group.as_deref() {
                Some("") | None => line.name.clone(),
                Some(group) => format!("{}, {}", line.name, group_label(self.lang, group)),
            };
            let trend = match line.trend.as_str() {
                "improved" => self.t("↑ förbättrad", "↑ improved"),
                "worsened" => self.t("↓ försämrad", "↓ worsened"),
                "unchanged" => self.t("→ oförändrad", "→ unchanged"),
                _ => self.t("inga jämförbara värden", "no comparable values"),
            };
            let meets = match line.meets_target {
                Some(true) => format!("<td class=\"yes\" data-value=\"true\">{}</td>", self.t("Ja", "Yes")),
                Some(false) => format!("<td class=\"no\" data-value=\"false\">{}</td>", self.t("Nej", "No")),
                None => format!("<td data-value=\"\">{}</td>", self.t("Kan inte avgöras", "Cannot tell")),
            };
            let _ = writeln!(
                html,
                "<tr><td>{}<br><span class=\"source\">{}</span></td><td>{}</td>{}{}{}<td data-value=\"{}\">{trend}</td>{meets}</tr>",
                escape(&name),
                escape(&line.source),
                escape(&line.target),
                year_cell(line.latest_year),
                figure(self.lang, line.latest, 1),
                figure(self.lang, line.previous, 1),
                escape(&line.trend),
            );
        }
        html.push_str("</tbody>\n</table>\n</section>\n");
    }

    fn activity_section(&self, html: &mut String) {
        let report = self.activity;
        let comparison = report.comparison.map(|p| p.to_string()).unwrap_or_default();
        let _ = writeln!(
            html,
            "<section id=\"activities\">\n<h2>{}</h2>\n<p>{} {} {} <span id=\"comparison-period\">{}</span>.</p>",
            self.t("Aktiviteter", "Activities"),
            self.t("Vad som gjordes under", "What was done in"),
            self.period,
            self.t("jämfört med samma period förra året,", "compared with the same period last year,"),
            escape(&comparison),
        );
        for dimension in [Dimension::Type, Dimension::Unit] {
            let rows = report.rows(&[dimension]);
            let _ = writeln!(
                html,
                "<h3>{} {}</h3>\n<table class=\"activity\" data-group=\"{}\">\n<thead><tr><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{} {comparison}</th><th class=\"n\">{}</th></tr></thead>\n<tbody>",
                self.t("Per", "By"),
                dimension_header(self.lang, dimension).to_lowercase(),
                dimension.as_str(),
                dimension_header(self.lang, dimension),
                self.t("Aktiviteter", "Activities"),
                self.t("Timmar", "Hours"),
                self.t("Kontakter/besökare", "Contacts/visitors"),
                self.t("Kontakter/besökare", "Contacts/visitors"),
                self.t("Förändring", "Change"),
            );
            for row in &rows {
                let value = row.key.first().map(String::as_str).unwrap_or_default();
                self.activity_row(html, &report.label(dimension, value), value, row);
            }
            html.push_str("</tbody>\n<tfoot>\n");
            self.activity_row(html, self.t("Totalt", "Total"), "total", &report.total());
            html.push_str("</tfoot>\n</table>\n");
        }
        let total = report.total();
        let before = total.before.clone().unwrap_or_default();
        let _ = writeln!(
            html,
            "<h3>{}</h3>\n<table class=\"contacts\">\n<thead><tr><th></th><th class=\"n\">{}</th><th class=\"n\">{comparison}</th><th class=\"n\">{}</th></tr></thead>\n<tbody>",
            self.t("Kontakter efter kön och ålder", "Contacts by gender and age"),
            self.period,
            self.t("Förändring", "Change"),
        );
        let buckets = GENDERS
            .iter()
            .zip(total.now.by_gender.iter().zip(before.by_gender.iter()))
            .chain(AGE_BANDS.iter().zip(total.now.by_age.iter().zip(before.by_age.iter())));
        for (bucket, (now, then)) in buckets {
            let _ = writeln!(
                html,
                "<tr data-key=\"{bucket}\"><td>{}</td>{}{}{}</tr>",
                bucket_label(self.lang, bucket),
                figure(self.lang, Some(round2(*now)), 2),
                figure(self.lang, Some(round2(*then)), 2),
                change_cell(self.lang, pct(*now, *then)),
            );
        }
        html.push_str("</tbody>\n</table>\n</section>\n");
    }

    fn activity_row(&self, html: &mut String, label: &str, key: &str, row: &Row) {
        let before = row.before.clone().unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr data-key=\"{}\"><td>{}</td>{}{}{}{}{}</tr>",
            escape(key),
            escape(label),
            figure(self.lang, Some(round2(row.now.activities)), 2),
            figure(self.lang, Some(round2(row.now.hours)), 1),
            figure(self.lang, Some(round2(row.now.contacts)), 2),
            figure(self.lang, Some(round2(before.contacts)), 2),
            change_cell(self.lang, pct(row.now.contacts, before.contacts)),
        );
    }

    fn measure_section(&self, html: &mut String) {
        let _ = writeln!(
            html,
            "<section id=\"measures\">\n<h2>{}</h2>\n<p>{}</p>",
            self.t("Åtgärder under perioden", "Measures during the period"),
            self.t(
                "Levererad insats räknas från aktivitetsloggarna i åtgärdens områden, typer och datum inom perioden. Effekten jämför åtgärdens kategorier i dess områden före och efter start med resten av kommunen, med 95 % osäkerhetsintervall.",
                "Delivered effort is counted from the activity logs in the measure's areas, types and dates within the period. The effect compares its categories in its areas before and after its start with the rest of the municipality, with a 95 % interval.",
            )
        );
        if self.measures.is_empty() {
            let _ = writeln!(
                html,
                "<p>{}</p>\n</section>",
                self.t("Inga åtgärder pågick under perioden.", "No measures ran during the period.")
            );
            return;
        }
        let _ = writeln!(
            html,
            "<table class=\"measures\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead>\n<tbody>",
            self.t("Åtgärd", "Measure"),
            self.t("Ansvarig", "Responsible"),
            self.t("Områden", "Areas"),
            self.t("Status", "Status"),
            self.t("Planerat, timmar", "Planned, hours"),
            self.t("Levererat, timmar", "Delivered, hours"),
            self.t("Effekt", "Effect"),
        );
        for line in self.measures {
            let status = self.status(line);
            let effect = self.effect(line);
            let _ = writeln!(
                html,
                "<tr data-key=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{status}</td>{}{}<td data-value=\"{}\">{effect}</td></tr>",
                escape(&line.id),
                escape(&line.title),
                escape(&line.responsible),
                escape(&line.areas.join(", ")),
                figure(self.lang, line.planned_hours, 1),
                figure(self.lang, Some(line.delivered_hours), 1),
                escape(&line.verdict),
            );
        }
        html.push_str("</tbody>\n</table>\n</section>\n");
    }

    /// A measure's status in words.
    pub(crate) fn status(&self, line: &MeasureLine) -> &'static str {
        match line.status.as_str() {
            "planned" => self.t("planerad", "planned"),
            "ongoing" => self.t("pågår", "ongoing"),
            "done" => self.t("klar", "done"),
            "stopped" => self.t("avbruten", "stopped"),
            _ => "–",
        }
    }

    /// A measure's effect in words, with the change and its interval when it can be told.
    pub(crate) fn effect(&self, line: &MeasureLine) -> String {
        let verdict = match line.verdict.as_str() {
            "decrease" => self.t("minskning", "decrease"),
            "increase" => self.t("ökning", "increase"),
            "no_clear_change" => self.t("ingen säker förändring", "no clear change"),
            "too_few_to_tell" => self.t("för få rapporter för att säga något", "too few reports to tell"),
            "not_started" => self.t("inte startad", "not started"),
            _ => "–",
        };
        let Some((change, low, high)) = line.change else { return verdict.to_owned() };
        let signed = |x: f64| {
            let sign = if x > 0.0 {
                "+"
            } else if x < 0.0 {
                "−"
            } else {
                ""
            };
            format!("{sign}{}", number(self.lang, x.abs(), 0))
        };
        format!(
            "{verdict}: {}\u{202F}% ({} {} {}\u{202F}%)",
            signed(change),
            signed(low),
            self.t("till", "to"),
            signed(high)
        )
    }

    pub(crate) fn area_section(&self, html: &mut String) {
        let _ = writeln!(
            html,
            "<section id=\"areas\">\n<h2>{}</h2>\n<table class=\"areas\">\n<thead><tr><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead>\n<tbody>",
            self.t("Lägesbild per område", "The picture by area"),
            self.t("Område", "Area"),
            self.t("Observationer", "Observations"),
            self.t("Mot förra året", "Against last year"),
            self.t("Upplevd trygghet (1–5)", "Perceived safety (1–5)"),
            self.t("Efter mörkrets inbrott", "After dark"),
            self.t("Närvaro, timmar", "Presence, hours"),
            self.t("Behov per närvaro", "Need per presence"),
            self.t("Läge", "State"),
        );
        for row in self.picture.areas.iter().chain(self.picture.outside_areas.iter()) {
            let code = row.area.as_deref().unwrap_or("outside");
            let name = row.name.clone().unwrap_or_else(|| self.t("Utanför områden", "Outside areas").to_owned());
            let state = match row.state {
                Some("visited") => self.t("besökt", "visited"),
                Some("unvisited") => self.t("obesökt", "unvisited"),
                Some("quiet") => self.t("lugnt", "quiet"),
                Some("no_data") => self.t("inga uppgifter", "no data"),
                _ => "–",
            };
            let _ = writeln!(
                html,
                "<tr data-key=\"{}\"><td>{}</td>{}{}{}{}{}{}<td>{state}</td></tr>",
                escape(code),
                escape(&name),
                figure(self.lang, row.observations.map(f64::from), 0),
                change_cell(self.lang, row.change_last_year_pct),
                figure(self.lang, row.mean_perceived_safety, 2),
                share_cell(self.lang, row.share_after_dark),
                figure(self.lang, row.presence.hours, 1),
                figure(self.lang, row.need_per_presence, 2),
            );
        }
        html.push_str("</tbody>\n</table>\n");
        let last_year = match &self.picture.comparisons.last_year {
            Some(window) => format!(
                "{}: {}.",
                self.t("Mot förra året jämförs med", "Against last year compares with"),
                self.days(&window.from, &window.to)
            ),
            None => self.t("Ingen jämförelse med förra året.", "No comparison with last year.").to_owned(),
        };
        let running = if self.picture.partial {
            format!(
                " {} {}.",
                self.t("Perioden pågår; siffrorna gäller", "The period is running; the figures cover"),
                self.days(&self.picture.from, &rfc3339_ms(self.generated_at.min(self.period.bounds_ms(self.tz).1)))
            )
        } else {
            String::new()
        };
        let _ =
            writeln!(html, "<p class=\"note\" id=\"area-comparison\">{}{}</p>", escape(&last_year), escape(&running));
        html.push_str("</section>\n");
    }

    /// A window `[from, to)` (RFC 3339) as its first and last local day.
    fn days(&self, from: &str, to: &str) -> String {
        let day = |text: &str, back_ms: i64| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .and_then(|at| chrono::DateTime::from_timestamp_millis(at.timestamp_millis() - back_ms))
                .map(|at| at.with_timezone(&self.tz).format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        format!("{} – {}", day(from, 0), day(to, 1))
    }

    pub(crate) fn heatmap_section(&self, html: &mut String) {
        let _ = writeln!(html, "<section id=\"heatmap\">\n<h2>{}</h2>\n<figure>", self.t("Värmekarta", "Heat map"));
        html.push_str(&super::figure::heat_map_svg(self.lang, self.heatmap, self.outlines, self.basemap));
        let total = self.heatmap.total.map(f64::from);
        let _ = write!(
            html,
            "<figcaption>{} {} ({}: <span id=\"heatmap-total\" data-value=\"{}\">{}</span>). <span class=\"legend\">{}:",
            self.t("Observationer per hexagon under", "Observations per hexagon in"),
            self.period,
            self.t("totalt", "in all"),
            total.map(|t| t.to_string()).unwrap_or_default(),
            total.map(|t| number(self.lang, t, 0)).unwrap_or_else(|| "–".into()),
            self.t("observationer per hexagon", "observations per hexagon"),
        );
        for class in &self.heatmap.classes {
            let range = if class.min == class.max {
                number(self.lang, f64::from(class.min), 0)
            } else {
                format!("{}–{}", number(self.lang, f64::from(class.min), 0), number(self.lang, f64::from(class.max), 0))
            };
            let _ = write!(
                html,
                " <span class=\"class\" data-min=\"{}\" data-max=\"{}\"><i style=\"background:{}\"></i>{range}</span>",
                class.min, class.max, class.colour
            );
        }
        html.push_str("</span>");
        if let Some(attribution) = self.basemap.and_then(|b| b.attribution.as_deref()) {
            let _ = write!(
                html,
                " <span class=\"attribution\">{}: {}</span>",
                self.t("Bakgrundskarta", "Base map"),
                escape(attribution)
            );
        }
        let _ = writeln!(html, "</figcaption>\n</figure>\n</section>");
    }
}

/// A group of an indicator as the language names it.
fn group_label(lang: Lang, group: &str) -> String {
    match group {
        "boys" => lang.pick("pojkar", "boys").to_owned(),
        "girls" => lang.pick("flickor", "girls").to_owned(),
        "other" => lang.pick("annat kön", "other gender").to_owned(),
        other => other.replace('_', " "),
    }
}

/// A moment as people read it: local date and time to the minute.
pub(crate) fn local_time(tz: Tz, ms: i64) -> String {
    use chrono::TimeZone;
    tz.timestamp_millis_opt(ms).single().map(|at| at.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

fn year_cell(year: Option<i32>) -> String {
    match year {
        Some(y) => format!("<td class=\"n\" data-value=\"{y}\">{y}</td>"),
        None => "<td class=\"n\" data-value=\"\">–</td>".to_owned(),
    }
}

fn share_cell(lang: Lang, share: Option<f64>) -> String {
    match share {
        Some(s) => format!("<td class=\"n\" data-value=\"{s}\">{}&#8239;%</td>", number(lang, s * 100.0, 0)),
        None => "<td class=\"n\" data-value=\"\">–</td>".to_owned(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_each_language_writes_them() {
        assert_eq!(number(Lang::Sv, 12345.5, 1), "12\u{a0}345,5");
        assert_eq!(number(Lang::En, 12345.5, 1), "12,345.5");
        assert_eq!(number(Lang::Sv, 3.0, 2), "3");
        assert_eq!(number(Lang::Sv, -2.25, 2), "−2,25");
        assert_eq!(number(Lang::Sv, -0.001, 1), "0");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("<b>\"Tom & Jerry's\"</b>"), "&lt;b&gt;&quot;Tom &amp; Jerry&#39;s&quot;&lt;/b&gt;");
    }
}
