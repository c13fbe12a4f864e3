//! The two documents the law names (lag 2023:196 om kommuners ansvar för brottsförebyggande
//! arbete): the **lägesbild** of a period (the picture by area, the areas clearly above their
//! previous level, the heat map, the coordinator's analysis, and external sources: survey
//! indicators and what partners said) and the **åtgärdsplan** (the measures with who is
//! responsible, when, with what effort, and how they are followed up). Each is one printable HTML
//! document (A4), one CSV table and one XLSX workbook, rendered when a coordinator approves it
//! and kept as it was then.

use super::followup::{FollowUp, MeasureLine, STYLE, figure, local_time, number};
use super::table::{Cell, Column, CsvStyle, SheetFormats, sheet_name, xlsx_filter, xlsx_header, xlsx_row};
use super::{Lang, escape};
use crate::domain::plan::Effort;
use crate::domain::weekly::{ALPHA, MIN_FLAGGED, period_test};
use rust_xlsxwriter::{Workbook, XlsxError};
use std::fmt::Write as _;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lagesbild,
    Atgardsplan,
}

impl Kind {
    /// Every kind, by its name in the API.
    pub const ALL: [Kind; 2] = [Kind::Lagesbild, Kind::Atgardsplan];

    /// The name in the API and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lagesbild => "lagesbild",
            Kind::Atgardsplan => "atgardsplan",
        }
    }

    /// The kind this name means.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The document's title.
    pub fn title(self, lang: Lang) -> &'static str {
        match self {
            Kind::Lagesbild => lang.pick("Lägesbild", "Situational picture"),
            Kind::Atgardsplan => lang.pick("Åtgärdsplan", "Action plan"),
        }
    }
}

/// Who approved a version, and when.
pub struct Approval<'a> {
    pub version: i64,
    pub by: &'a str,
    pub at: i64,
}

/// A document: the period's figures, the texts the coordinator wrote, and its approval (none for
/// a preview).
pub struct Document<'a> {
    pub kind: Kind,
    /// The period's figures, as the follow-up report shows them.
    pub figures: FollowUp<'a>,
    /// The coordinator's analysis of the picture.
    pub analysis: &'a str,
    /// What partners (the police, the housing company, schools) contributed.
    pub partner_input: &'a str,
    pub approval: Option<Approval<'a>>,
}

/// An area clearly above its previous period's level.
struct Flagged<'a> {
    code: &'a str,
    name: &'a str,
    now: u32,
    previous: u32,
    p_value: f64,
}

impl Document<'_> {
    fn t(&self, sv: &'static str, en: &'static str) -> &'static str {
        self.figures.lang.pick(sv, en)
    }

    fn lang(&self) -> Lang {
        self.figures.lang
    }

    /// The areas whose count in the period is clearly above the previous period's
    /// ([`period_test`]), most unlikely first.
    fn flagged(&self) -> Vec<Flagged<'_>> {
        let mut flagged: Vec<Flagged<'_>> = self
            .figures
            .picture
            .areas
            .iter()
            .filter_map(|row| {
                let (now, previous) = (row.observations?, row.previous_period?);
                let test = period_test(u64::from(now), u64::from(previous));
                test.flagged.then(|| Flagged {
                    code: row.area.as_deref().unwrap_or_default(),
                    name: row.name.as_deref().unwrap_or_default(),
                    now,
                    previous,
                    p_value: test.p_value,
                })
            })
            .collect();
        flagged.sort_by(|a, b| a.p_value.total_cmp(&b.p_value).then_with(|| a.code.cmp(b.code)));
        flagged
    }

    /// The whole HTML document.
    pub fn html(&self) -> String {
        let figures = &self.figures;
        let title = format!("{} {}", self.kind.title(self.lang()), figures.period);
        let mut html = String::with_capacity(64 * 1024);
        let _ = writeln!(
            html,
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} – {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1 id=\"document\" data-kind=\"{}\">{}</h1>",
            self.t("sv", "en"),
            escape(&title),
            escape(figures.organisation),
            self.kind.as_str(),
            escape(&title),
        );
        let _ = writeln!(
            html,
            "<p class=\"meta\"><span id=\"period\" data-value=\"{}\">{} – {}</span> · {}</p>",
            figures.period,
            figures.period.first.format("%Y-%m-%d"),
            figures.period.last.format("%Y-%m-%d"),
            escape(figures.organisation),
        );
        match &self.approval {
            Some(approval) => {
                let _ = writeln!(
                    html,
                    "<p class=\"meta\" id=\"approval\" data-version=\"{}\">{} {} · {} <span id=\"approved-by\">{}</span> {}</p>",
                    approval.version,
                    self.t("Version", "Version"),
                    approval.version,
                    self.t("godkänd av", "approved by"),
                    escape(approval.by),
                    local_time(figures.tz, approval.at),
                );
            }
            None => {
                let _ = writeln!(
                    html,
                    "<p class=\"meta\" id=\"approval\" data-version=\"\"><strong>{}</strong></p>",
                    self.t("Utkast – inte godkänt", "Draft – not approved")
                );
            }
        }
        html.push_str("</header>\n<main>\n");
        match self.kind {
            Kind::Lagesbild => self.lagesbild(&mut html),
            Kind::Atgardsplan => self.atgardsplan(&mut html),
        }
        let _ = writeln!(
            html,
            "</main>\n<footer>{} {} ({}). {}</footer>\n</body>\n</html>",
            self.t("Underlaget hämtat", "Figures read"),
            local_time(figures.tz, figures.generated_at),
            figures.tz.name(),
            self.t(
                "Siffrorna kommer från lägesbildens registreringar. Dokumentet ändras inte efter att det godkänts; en ny version ersätter det.",
                "The figures come from the records in lagesbild. The document does not change once approved; a new version replaces it."
            ),
        );
        html
    }

    fn text_section(&self, html: &mut String, id: &str, heading: &str, text: &str, empty: &str) {
        let _ = writeln!(html, "<section id=\"{id}\">\n<h2>{}</h2>", escape(heading));
        if text.trim().is_empty() {
            let _ = writeln!(html, "<p class=\"note\">{}</p>", escape(empty));
        }
        for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            let _ = writeln!(html, "<p class=\"comment\">{}</p>", escape(paragraph).replace('\n', "<br>"));
        }
        html.push_str("</section>\n");
    }

    fn lagesbild(&self, html: &mut String) {
        self.text_section(
            html,
            "analysis",
            self.t("Analys", "Analysis"),
            self.analysis,
            self.t("Ingen analys är skriven.", "No analysis is written."),
        );
        let flagged = self.flagged();
        let _ = writeln!(
            html,
            "<section id=\"flagged\" data-count=\"{}\">\n<h2>{}</h2>\n<p>{}</p>",
            flagged.len(),
            self.t("Områden tydligt över föregående period", "Areas clearly above the previous period"),
            escape(&format!(
                "{} {MIN_FLAGGED} {} {}.",
                self.t("Ett område markeras när det har minst", "An area is marked when it has at least"),
                self.t(
                    "observationer och chansen att få så många vid föregående periods nivå (Poisson) är under",
                    "observations and the chance of so many at the previous period's level (Poisson) is below"
                ),
                number(self.lang(), ALPHA, 2),
            )),
        );
        if flagged.is_empty() {
            let _ = writeln!(
                html,
                "<p>{}</p>",
                self.t(
                    "Inget område ligger tydligt över föregående period.",
                    "No area is clearly above the previous period."
                )
            );
        } else {
            let _ = writeln!(
                html,
                "<table class=\"flagged\">\n<thead><tr><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th></tr></thead>\n<tbody>",
                self.t("Område", "Area"),
                self.t("Observationer", "Observations"),
                self.t("Föregående period", "Previous period"),
                self.t("Sannolikhet", "Chance"),
            );
            for area in &flagged {
                let _ = writeln!(
                    html,
                    "<tr data-key=\"{}\"><td>{}</td>{}{}{}</tr>",
                    escape(area.code),
                    escape(area.name),
                    figure(self.lang(), Some(f64::from(area.now)), 0),
                    figure(self.lang(), Some(f64::from(area.previous)), 0),
                    figure(self.lang(), Some(area.p_value), 4),
                );
            }
            html.push_str("</tbody>\n</table>\n");
        }
        html.push_str("</section>\n");
        self.figures.area_section(html);
        self.figures.heatmap_section(html);
        let _ = writeln!(html, "<h2 id=\"sources\">{}</h2>", self.t("Externa källor", "External sources"));
        self.figures.indicator_section(html);
        self.text_section(
            html,
            "partner-input",
            self.t("Underlag från samverkanspartner", "Input from partners"),
            self.partner_input,
            self.t("Inget underlag från partner är inskrivet.", "No input from partners is written."),
        );
    }

    fn effort(&self, effort: Option<&Effort>) -> String {
        match effort {
            Some(Effort::WeeklyHours { hours }) => {
                format!("{} {}", number(self.lang(), *hours, 1), self.t("timmar i veckan", "hours a week"))
            }
            Some(Effort::OneOff { description }) => format!("{}: {description}", self.t("engångsinsats", "one-off")),
            None => String::new(),
        }
    }

    fn span(line: &MeasureLine) -> String {
        format!("{} – {}", line.planned_start, line.planned_end.as_deref().unwrap_or(""))
    }

    fn atgardsplan(&self, html: &mut String) {
        let measures = self.figures.measures;
        let _ = writeln!(
            html,
            "<section id=\"plan\" data-count=\"{}\">\n<h2>{}</h2>\n<p>{}</p>",
            measures.len(),
            self.t("Åtgärder", "Measures"),
            self.t(
                "De åtgärder som pågår eller är planerade under perioden. Uppföljningen räknar levererad insats från aktivitetsloggarna i åtgärdens områden, typer och datum inom perioden, och effekten som åtgärdens kategorier i dess områden före och efter start mot resten av kommunen.",
                "The measures running or planned during the period. The follow-up counts delivered effort from the activity logs in the measure's areas, types and dates within the period, and the effect as its categories in its areas before and after its start against the rest of the municipality."
            ),
        );
        if measures.is_empty() {
            let _ = writeln!(
                html,
                "<p>{}</p>\n</section>",
                self.t("Inga åtgärder under perioden.", "No measures during the period.")
            );
            return;
        }
        let _ = writeln!(
            html,
            "<table class=\"measures\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead>\n<tbody>",
            self.t("Åtgärd och problem", "Measure and problems"),
            self.t("Ansvarig", "Responsible"),
            self.t("Områden", "Areas"),
            self.t("Tid", "When"),
            self.t("Planerad insats", "Planned effort"),
            self.t("Beslut", "Decision"),
            self.t("Status", "Status"),
            self.t("Levererat, timmar", "Delivered, hours"),
            self.t("Effekt", "Effect"),
        );
        for line in measures {
            let problems = if line.problems.is_empty() {
                String::new()
            } else {
                format!(
                    "<br><span class=\"source\">{}: {}</span>",
                    self.t("Mot", "Against"),
                    escape(&line.problems.join("; "))
                )
            };
            let _ = writeln!(
                html,
                "<tr data-key=\"{}\"><td>{}{problems}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}<td data-value=\"{}\">{}</td></tr>",
                escape(&line.id),
                escape(&line.title),
                escape(&line.responsible),
                escape(&line.areas.join(", ")),
                escape(&Self::span(line)),
                escape(&self.effort(line.effort.as_ref())),
                escape(&line.decision),
                self.figures.status(line),
                figure(self.lang(), Some(line.delivered_hours), 1),
                escape(&line.verdict),
                escape(&self.figures.effect(line)),
            );
        }
        html.push_str("</tbody>\n</table>\n</section>\n");
    }

    /// The document's main table: the areas (lägesbild) or the measures (åtgärdsplan).
    pub fn table(&self) -> (Vec<Column>, Vec<Vec<Cell>>) {
        let t = |sv, en| self.t(sv, en);
        match self.kind {
            Kind::Lagesbild => {
                let flagged: Vec<String> = self.flagged().iter().map(|f| f.code.to_owned()).collect();
                let columns = vec![
                    Column::new(t("Områdeskod", "Area code"), 12.0),
                    Column::new(t("Område", "Area"), 24.0),
                    Column::new(t("Observationer", "Observations"), 12.0),
                    Column::new(t("Föregående period", "Previous period"), 12.0),
                    Column::new(t("Samma period förra året", "Same period last year"), 12.0),
                    Column::new(t("Upplevd trygghet (1–5)", "Perceived safety (1–5)"), 12.0),
                    Column::new(t("Andel efter mörkrets inbrott", "Share after dark"), 12.0),
                    Column::new(t("Närvaro, timmar", "Presence, hours"), 12.0),
                    Column::new(t("Behov per närvaro", "Need per presence"), 12.0),
                    Column::new(t("Tydligt över föregående period", "Clearly above the previous period"), 14.0),
                ];
                let rows = self
                    .figures
                    .picture
                    .areas
                    .iter()
                    .map(|row| {
                        let code = row.area.clone().unwrap_or_default();
                        vec![
                            Cell::Text(code.clone()),
                            Cell::from(row.name.clone()),
                            Cell::from(row.observations.map(i64::from)),
                            Cell::from(row.previous_period.map(i64::from)),
                            Cell::from(row.same_period_last_year.map(i64::from)),
                            Cell::from(row.mean_perceived_safety),
                            Cell::from(row.share_after_dark),
                            Cell::from(row.presence.hours),
                            Cell::from(row.need_per_presence),
                            Cell::Bool(flagged.contains(&code)),
                        ]
                    })
                    .collect();
                (columns, rows)
            }
            Kind::Atgardsplan => {
                let columns = vec![
                    Column::new(t("Åtgärd", "Measure"), 30.0),
                    Column::new(t("Mot problem", "Against problems"), 30.0),
                    Column::new(t("Ansvarig", "Responsible"), 18.0),
                    Column::new(t("Områden", "Areas"), 12.0),
                    Column::new(t("Planerad start", "Planned start"), 12.0),
                    Column::new(t("Planerat slut", "Planned end"), 12.0),
                    Column::new(t("Planerad insats", "Planned effort"), 24.0),
                    Column::new(t("Beslut", "Decision"), 20.0),
                    Column::new(t("Status", "Status"), 10.0),
                    Column::new(t("Planerat under perioden, timmar", "Planned in the period, hours"), 12.0),
                    Column::new(t("Levererat under perioden, timmar", "Delivered in the period, hours"), 12.0),
                    Column::new(t("Effekt", "Effect"), 40.0),
                ];
                let rows = self
                    .figures
                    .measures
                    .iter()
                    .map(|line| {
                        vec![
                            Cell::Text(line.title.clone()),
                            Cell::Text(line.problems.join("; ")),
                            Cell::Text(line.responsible.clone()),
                            Cell::Text(line.areas.join(", ")),
                            Cell::Text(line.planned_start.clone()),
                            Cell::from(line.planned_end.clone()),
                            Cell::Text(self.effort(line.effort.as_ref())),
                            Cell::Text(line.decision.clone()),
                            Cell::from(self.figures.status(line)),
                            Cell::from(line.planned_hours),
                            Cell::Num(line.delivered_hours),
                            Cell::Text(self.figures.effect(line)),
                        ]
                    })
                    .collect();
                (columns, rows)
            }
        }
    }

    /// The main table as CSV: semicolons and decimal commas for Swedish Excel in Swedish, commas
    /// otherwise.
    pub fn csv(&self) -> csv::Result<Vec<u8>> {
        let style = CsvStyle { semicolon: self.lang() == Lang::Sv, tz: self.figures.tz };
        let (columns, rows) = self.table();
        let mut out = Vec::new();
        {
            let mut writer = style.writer(&mut out, &columns)?;
            for row in &rows {
                style.row(&mut writer, row)?;
            }
            writer.flush()?;
        }
        Ok(out)
    }

    /// The workbook: the main table, then a sheet with what the document is and the texts.
    pub fn xlsx(&self) -> Result<Vec<u8>, XlsxError> {
        let mut workbook = Workbook::new();
        let formats = SheetFormats::default();
        let (columns, rows) = self.table();
        let sheet = workbook.add_worksheet();
        sheet.set_name(sheet_name(match self.kind {
            Kind::Lagesbild => self.t("Områden", "Areas"),
            Kind::Atgardsplan => self.t("Åtgärder", "Measures"),
        }))?;
        xlsx_header(sheet, &columns, &formats)?;
        for (index, row) in rows.iter().enumerate() {
            let at = u32::try_from(index + 1).unwrap_or(u32::MAX);
            xlsx_row(sheet, at, row.iter().map(Cell::field), self.figures.tz, &formats)?;
        }
        xlsx_filter(sheet, u32::try_from(rows.len()).unwrap_or(u32::MAX), columns.len())?;

        let about = workbook.add_worksheet();
        about.set_name(sheet_name(self.t("Dokument", "Document")))?;
        let about_columns = [Column::new(self.t("Uppgift", "Item"), 24.0), Column::new("", 100.0)];
        xlsx_header(about, &about_columns, &formats)?;
        let mut lines: Vec<(&str, Cell)> = vec![
            (self.t("Dokument", "Document"), Cell::from(self.kind.title(self.lang()))),
            (self.t("Organisation", "Organisation"), Cell::from(self.figures.organisation)),
            (self.t("Period", "Period"), Cell::Text(self.figures.period.to_string())),
            (self.t("Underlaget hämtat", "Figures read"), Cell::Time(self.figures.generated_at)),
        ];
        match &self.approval {
            Some(approval) => {
                lines.push((self.t("Version", "Version"), Cell::Int(approval.version)));
                lines.push((self.t("Godkänd av", "Approved by"), Cell::from(approval.by)));
                lines.push((self.t("Godkänd", "Approved"), Cell::Time(approval.at)));
            }
            None => lines.push((self.t("Version", "Version"), Cell::from(self.t("utkast", "draft")))),
        }
        if self.kind == Kind::Lagesbild {
            lines.push((self.t("Analys", "Analysis"), Cell::from(self.analysis)));
            lines.push((
                self.t("Underlag från samverkanspartner", "Input from partners"),
                Cell::from(self.partner_input),
            ));
        }
        for (index, (label, value)) in lines.iter().enumerate() {
            let at = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let cells = [Cell::from(*label), value.clone()];
            xlsx_row(about, at, cells.iter().map(Cell::field), self.figures.tz, &formats)?;
        }
        workbook.save_to_buffer()
    }
}
