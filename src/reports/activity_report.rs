//! The activity report: the groups asked for in a period, beside the comparison period, as JSON,
//! CSV or XLSX. Everything the JSON says is in the CSV and in the XLSX.

use super::Lang;
use super::table::{Cell, Column, CsvStyle, Field, SheetFormats, sheet_name, xlsx_filter, xlsx_header, xlsx_row};
use crate::db::queries::reports::{ActivityFilter, Labels};
use crate::domain::activity::{AGE_BANDS, Activity, Dimension, Figures, GENDERS, Key, OUTSIDE, aggregate};
use crate::domain::period::Period;
use chrono_tz::Tz;
use rust_xlsxwriter::{Workbook, XlsxError};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;

/// Which period the figures are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    LastYear,
    Previous,
    Nothing,
}

impl Compare {
    pub fn parse(text: Option<&str>) -> Option<Self> {
        match text.map(str::trim) {
            None | Some("" | "last_year") => Some(Self::LastYear),
            Some("previous") => Some(Self::Previous),
            Some("none") => Some(Self::Nothing),
            Some(_) => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LastYear => "last_year",
            Self::Previous => "previous",
            Self::Nothing => "none",
        }
    }

    /// The comparison period of `period`.
    pub fn period(self, period: &Period) -> Option<Period> {
        match self {
            Self::LastYear => Some(period.a_year_earlier()),
            Self::Previous => Some(period.previous()),
            Self::Nothing => None,
        }
    }
}

/// What a report is asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub period: Period,
    pub dimensions: Vec<Dimension>,
    pub compare: Compare,
    pub filter: ActivityFilter,
    /// Only activities in these areas (codes); `None` for every activity, also outside areas.
    pub areas: Option<HashSet<String>>,
    /// Groups and counts below this are suppressed (partners).
    pub suppress_below: Option<u32>,
    pub lang: Lang,
}

impl Request {
    /// The instants to read activities for: the period and its comparison period.
    pub fn reading_bounds(&self, tz: Tz) -> (i64, i64) {
        let (from, to) = self.period.bounds_ms(tz);
        match self.compare.period(&self.period) {
            Some(other) => {
                let (a, b) = other.bounds_ms(tz);
                (from.min(a), to.max(b))
            }
            None => (from, to),
        }
    }
}

/// One group: its figures now and in the comparison period.
#[derive(Debug, Clone)]
pub struct Row {
    pub key: Key,
    pub now: Figures,
    pub before: Option<Figures>,
}

/// A report ready to render.
pub struct Report {
    pub request: Request,
    pub tz: Tz,
    pub comparison: Option<Period>,
    pub generated_at: i64,
    labels: Labels,
    activities: Vec<Activity>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Report {
    /// A report over `activities` (read for [`Request::reading_bounds`]).
    pub fn new(request: Request, tz: Tz, activities: Vec<Activity>, labels: Labels, now_ms: i64) -> Self {
        let activities = match &request.areas {
            Some(allowed) => {
                activities.into_iter().filter(|a| a.area.as_ref().is_some_and(|code| allowed.contains(code))).collect()
            }
            None => activities,
        };
        let comparison = request.compare.period(&request.period);
        Self { request, tz, comparison, generated_at: now_ms, labels, activities }
    }

    /// Reads what the report needs from the database and makes it.
    pub fn load(
        conn: &mut crate::db::DbConnection,
        organisation_id: &str,
        request: Request,
        tz: Tz,
        now_ms: i64,
    ) -> crate::db::QueryResult<Self> {
        let (from, to) = request.reading_bounds(tz);
        let activities =
            crate::db::queries::reports::activities_overlapping(conn, organisation_id, from, to, &request.filter)?;
        let labels = crate::db::queries::reports::labels(conn, organisation_id)?;
        Ok(Self::new(request, tz, activities, labels, now_ms))
    }

    /// The groups of `dimensions`, in key order, with their comparison figures.
    pub fn rows(&self, dimensions: &[Dimension]) -> Vec<Row> {
        if let Some(k) = self.request.suppress_below {
            return self.published_rows(dimensions, k);
        }
        let (from, to) = self.request.period.bounds_ms(self.tz);
        let now = aggregate(&self.activities, from, to, dimensions);
        let before = self.comparison.map(|period| {
            let (from, to) = period.bounds_ms(self.tz);
            aggregate(&self.activities, from, to, dimensions)
        });
        let keys: BTreeSet<&Key> = now.keys().chain(before.iter().flat_map(|b| b.keys())).collect();
        keys.into_iter()
            .map(|key| Row {
                key: key.clone(),
                now: now.get(key).cloned().unwrap_or_default(),
                before: before.as_ref().map(|b| b.get(key).cloned().unwrap_or_default()),
            })
            .collect()
    }

    /// A partner's rows, by the partner disclosure rule: the cells are an area's activities in
    /// one tertial, published from k activities up (their hours with them), and its contacts,
    /// published from k up; every row and total is a sum of published cells. Gender and age tallies would
    /// cut the contacts two more ways and are not published. `dimensions` is `[area]` or none
    /// (the route refuses the rest).
    fn published_rows(&self, dimensions: &[Dimension], k: u32) -> Vec<Row> {
        let k = f64::from(k);
        let published = |period: &Period| -> BTreeMap<Key, Figures> {
            let (from, to) = period.bounds_ms(self.tz);
            aggregate(&self.activities, from, to, &[Dimension::Area])
                .into_iter()
                .filter(|(_, figures)| figures.activities >= k || figures.contacts >= k)
                .map(|(key, figures)| {
                    let (activities, hours) =
                        if figures.activities >= k { (figures.activities, figures.hours) } else { (0.0, 0.0) };
                    let contacts = if figures.contacts >= k { figures.contacts } else { 0.0 };
                    (key, Figures { activities, hours, contacts, ..Figures::default() })
                })
                .collect()
        };
        let now = published(&self.request.period);
        let before = self.comparison.map(|period| published(&period));
        let by_area = dimensions.contains(&Dimension::Area);
        let key_of = |key: &Key| if by_area { key.clone() } else { Vec::new() };
        let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
        let empty =
            |key: Key| Row { key, now: Figures::default(), before: before.as_ref().map(|_| Figures::default()) };
        for (key, figures) in &now {
            let row = rows.entry(key_of(key)).or_insert_with(|| empty(key_of(key)));
            row.now.activities += figures.activities;
            row.now.hours += figures.hours;
            row.now.contacts += figures.contacts;
        }
        for (key, figures) in before.iter().flatten() {
            let row = rows.entry(key_of(key)).or_insert_with(|| empty(key_of(key)));
            if let Some(sum) = row.before.as_mut() {
                sum.activities += figures.activities;
                sum.hours += figures.hours;
                sum.contacts += figures.contacts;
            }
        }
        rows.into_values().collect()
    }

    /// Every activity of the period (and the comparison period) in one row.
    pub fn total(&self) -> Row {
        self.rows(&[]).into_iter().next().unwrap_or(Row {
            key: Vec::new(),
            now: Figures::default(),
            before: self.comparison.map(|_| Figures::default()),
        })
    }

    /// Whether a group is hidden: never, as a partner's rows hold published cells only.
    fn hidden(&self, _figures: &Figures) -> bool {
        false
    }

    /// A count as the caller sees it.
    fn count(&self, n: f64) -> Option<f64> {
        Some(round2(n))
    }

    /// Whether the gender and age tallies are shown: not to partners (see [`Self::published_rows`]).
    fn tallies(&self) -> bool {
        self.request.suppress_below.is_none()
    }

    /// A group value as people read it.
    pub fn label(&self, dimension: Dimension, value: &str) -> String {
        let lang = self.request.lang;
        match dimension {
            Dimension::Type => self
                .labels
                .types
                .get(value)
                .map(|(sv, en)| if lang == Lang::Sv { sv.clone() } else { en.clone() })
                .unwrap_or_else(|| value.to_owned()),
            Dimension::Unit => self.labels.units.get(value).cloned().unwrap_or_else(|| value.to_owned()),
            Dimension::Area if value == OUTSIDE => lang.pick("Utanför områden", "Outside areas").to_owned(),
            Dimension::Area => self.labels.areas.get(value).cloned().unwrap_or_else(|| value.to_owned()),
            Dimension::Gender | Dimension::AgeBand => bucket_label(lang, value).to_owned(),
        }
    }

    /// The JSON answer.
    pub fn json(&self) -> Value {
        let dimensions = &self.request.dimensions;
        let row_json = |row: &Row| -> Value {
            let mut object = Map::new();
            for (dimension, value) in dimensions.iter().zip(&row.key) {
                object.insert(dimension.as_str().to_owned(), json!(value));
                object.insert(format!("{}_label", dimension.as_str()), json!(self.label(*dimension, value)));
            }
            self.figures_json(&mut object, row);
            Value::Object(object)
        };
        let rows: Vec<Value> = self.rows(dimensions).iter().map(row_json).collect();
        let mut total = Map::new();
        self.figures_json(&mut total, &self.total());
        let (from, to) = self.request.period.bounds_ms(self.tz);
        json!({
            "period": self.request.period.to_string(),
            "from": super::table::local_iso(self.tz, from),
            "to": super::table::local_iso(self.tz, to),
            "time_zone": self.tz.name(),
            "group_by": dimensions.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            "compare": self.request.compare.as_str(),
            "comparison_period": self.comparison.map(|p| p.to_string()),
            "filters": {
                "type": self.request.filter.types,
                "unit": self.request.filter.units,
                "area": self.request.areas.as_ref().map(|a| a.iter().cloned().collect::<BTreeSet<_>>()),
            },
            "suppression_k": self.request.suppress_below,
            "generated_at": super::table::local_iso(self.tz, self.generated_at),
            "rows": rows,
            "total": total,
        })
    }

    fn figures_json(&self, object: &mut Map<String, Value>, row: &Row) {
        let hidden = self.hidden(&row.now);
        let dimensions = &self.request.dimensions;
        let by_gender = !dimensions.contains(&Dimension::AgeBand) && self.tallies();
        let by_age = !dimensions.contains(&Dimension::Gender) && self.tallies();
        let figures = |figures: &Figures, hidden: bool| -> Value {
            let n = |x: f64| if hidden { Value::Null } else { json!(self.count(x)) };
            let mut out = Map::new();
            out.insert("activities".into(), n(figures.activities));
            out.insert("hours".into(), if hidden { Value::Null } else { json!(round2(figures.hours)) });
            out.insert("contacts".into(), n(figures.contacts));
            if by_gender {
                let split: Map<String, Value> =
                    GENDERS.iter().zip(figures.by_gender).map(|(g, x)| ((*g).to_owned(), n(x))).collect();
                out.insert("by_gender".into(), Value::Object(split));
            }
            if by_age {
                let split: Map<String, Value> =
                    AGE_BANDS.iter().zip(figures.by_age).map(|(a, x)| ((*a).to_owned(), n(x))).collect();
                out.insert("by_age_band".into(), Value::Object(split));
            }
            Value::Object(out)
        };
        if let Value::Object(now) = figures(&row.now, hidden) {
            object.extend(now);
        }
        if let Some(before) = &row.before {
            let hidden_before = hidden || self.hidden(before);
            object.insert("comparison".into(), figures(before, hidden_before));
            let change: Map<String, Value> = changes(&row.now, before)
                .into_iter()
                .map(|(name, x)| (name.to_owned(), if hidden_before { Value::Null } else { json!(x) }))
                .collect();
            object.insert("change".into(), Value::Object(change));
        }
        if self.request.suppress_below.is_some() {
            object.insert("by_gender".into(), Value::Null);
            object.insert("by_age_band".into(), Value::Null);
        }
        object.insert("suppressed".into(), json!(hidden));
    }

    /// The table of `dimensions`: its columns and rows, the total last.
    pub fn table(&self, dimensions: &[Dimension]) -> (Vec<Column>, Vec<Vec<Cell>>) {
        let lang = self.request.lang;
        let by_gender = !dimensions.contains(&Dimension::AgeBand) && self.tallies();
        let by_age = !dimensions.contains(&Dimension::Gender) && self.tallies();
        let mut columns: Vec<Column> =
            dimensions.iter().map(|d| Column::new(dimension_header(lang, *d), 24.0)).collect();
        let figure_columns = |suffix: &str| -> Vec<Column> {
            let mut names = vec![
                lang.pick("Aktiviteter", "Activities").to_owned(),
                lang.pick("Timmar", "Hours").to_owned(),
                lang.pick("Kontakter/besökare", "Contacts/visitors").to_owned(),
            ];
            if by_gender {
                names.extend(GENDERS.iter().map(|g| bucket_label(lang, g).to_owned()));
            }
            if by_age {
                names.extend(AGE_BANDS.iter().map(|a| bucket_label(lang, a).to_owned()));
            }
            names.into_iter().map(|name| Column::new(format!("{name}{suffix}"), 12.0)).collect()
        };
        columns.extend(figure_columns(""));
        if let Some(period) = self.comparison {
            columns.extend(figure_columns(&format!(" {period}")));
            for (name, _) in changes(&Figures::default(), &Figures::default()) {
                columns.push(Column::new(change_header(lang, name), 14.0));
            }
        }
        let cells = |figures: &Figures, hidden: bool| -> Vec<Cell> {
            let n = |x: f64| if hidden { Cell::Empty } else { self.count(x).map_or(Cell::Empty, Cell::Num) };
            let mut out = vec![
                n(figures.activities),
                if hidden { Cell::Empty } else { Cell::Num(round2(figures.hours)) },
                n(figures.contacts),
            ];
            if by_gender {
                out.extend(figures.by_gender.iter().map(|x| n(*x)));
            }
            if by_age {
                out.extend(figures.by_age.iter().map(|x| n(*x)));
            }
            out
        };
        let line = |labels: Vec<Cell>, row: &Row| -> Vec<Cell> {
            let hidden = self.hidden(&row.now);
            let mut out = labels;
            out.extend(cells(&row.now, hidden));
            if let Some(before) = &row.before {
                let hidden_before = hidden || self.hidden(before);
                out.extend(cells(before, hidden_before));
                out.extend(
                    changes(&row.now, before)
                        .into_iter()
                        .map(|(_, x)| if hidden_before { Cell::Empty } else { Cell::from(x) }),
                );
            }
            out
        };
        let mut rows: Vec<Vec<Cell>> = self
            .rows(dimensions)
            .iter()
            .map(|row| {
                let labels =
                    dimensions.iter().zip(&row.key).map(|(d, value)| Cell::Text(self.label(*d, value))).collect();
                line(labels, row)
            })
            .collect();
        let mut labels = vec![Cell::Empty; dimensions.len()];
        if let Some(first) = labels.first_mut() {
            *first = Cell::Text(lang.pick("Totalt", "Total").to_owned());
        }
        rows.push(line(labels, &self.total()));
        (columns, rows)
    }

    /// Writes the requested grouping as CSV.
    pub fn write_csv<W: Write>(&self, out: W, semicolon: bool) -> anyhow::Result<()> {
        let style = CsvStyle { semicolon, tz: self.tz };
        let (columns, rows) = self.table(&self.request.dimensions);
        let mut writer = style.writer(out, &columns)?;
        for row in &rows {
            style.row(&mut writer, row)?;
        }
        writer.flush()?;
        Ok(())
    }

    /// The XLSX workbook: the grouping asked for, one sheet per breakdown, and a sheet that
    /// states the period, filters, generation time and suppression rule.
    pub fn xlsx(&self) -> Result<Vec<u8>, XlsxError> {
        let lang = self.request.lang;
        let mut workbook = Workbook::new();
        let formats = SheetFormats::default();
        let mut sheets: Vec<(String, Vec<Dimension>)> = Vec::new();
        if self.request.dimensions.len() > 1 {
            let names: Vec<&str> = self.request.dimensions.iter().map(|d| dimension_header(lang, *d)).collect();
            sheets.push((names.join(", "), self.request.dimensions.clone()));
        }
        let breakdowns = if self.tallies() {
            vec![Dimension::Type, Dimension::Unit, Dimension::Area, Dimension::Gender, Dimension::AgeBand]
        } else {
            vec![Dimension::Area]
        };
        for dimension in breakdowns {
            sheets.push((format!("{} {}", lang.pick("Per", "By"), dimension_header(lang, dimension)), vec![dimension]));
        }
        for (name, dimensions) in sheets {
            let (columns, rows) = self.table(&dimensions);
            let sheet = workbook.add_worksheet();
            sheet.set_name(sheet_name(&name))?;
            xlsx_header(sheet, &columns, &formats)?;
            for (index, row) in rows.iter().enumerate() {
                xlsx_row(
                    sheet,
                    u32::try_from(index + 1).unwrap_or(u32::MAX),
                    row.iter().map(Cell::field),
                    self.tz,
                    &formats,
                )?;
            }
            xlsx_filter(sheet, u32::try_from(rows.len()).unwrap_or(u32::MAX), columns.len())?;
        }
        let about = workbook.add_worksheet();
        about.set_name(lang.pick("Om rapporten", "About"))?;
        let (from, to) = self.request.period.bounds_ms(self.tz);
        let filters =
            |values: &[String]| if values.is_empty() { lang.pick("alla", "all").to_owned() } else { values.join(", ") };
        let areas = match &self.request.areas {
            Some(codes) => codes.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", "),
            None => lang.pick("alla, även utanför områden", "all, also outside areas").to_owned(),
        };
        let suppression = match self.request.suppress_below {
            Some(k) => format!(
                "{} {k}",
                lang.pick(
                    "Grupper och antal under k är undertryckta (tomma); k =",
                    "Groups and counts below k are suppressed (empty); k ="
                )
            ),
            None => lang.pick("Ingen undertryckning", "No suppression").to_owned(),
        };
        let lines: Vec<(&str, Cell)> = vec![
            (lang.pick("Rapport", "Report"), Cell::from(lang.pick("Aktiviteter", "Activities"))),
            (lang.pick("Period", "Period"), Cell::Text(self.request.period.to_string())),
            (lang.pick("Från", "From"), Cell::Time(from)),
            (lang.pick("Till (exklusive)", "To (exclusive)"), Cell::Time(to)),
            (lang.pick("Tidszon", "Time zone"), Cell::from(self.tz.name())),
            (
                lang.pick("Jämförelseperiod", "Comparison period"),
                Cell::from(self.comparison.map(|p| p.to_string())),
            ),
            (
                lang.pick("Grupperat på", "Grouped by"),
                Cell::Text(self.request.dimensions.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")),
            ),
            (lang.pick("Aktivitetstyper", "Activity types"), Cell::Text(filters(&self.request.filter.types))),
            (lang.pick("Enheter", "Units"), Cell::Text(filters(&self.request.filter.units))),
            (lang.pick("Områden", "Areas"), Cell::Text(areas)),
            (lang.pick("Skapad", "Generated"), Cell::Time(self.generated_at)),
            (lang.pick("Undertryckning", "Suppression"), Cell::Text(suppression)),
            (
                lang.pick("Delade aktiviteter", "Split activities"),
                Cell::from(lang.pick(
                    "En aktivitet som går över periodens gräns räknas med den andel av tiden som ligger inom perioden.",
                    "An activity that crosses the period's boundary counts with the share of its time inside the period.",
                )),
            ),
        ];
        about.set_column_width(0, 24)?;
        about.set_column_width(1, 60)?;
        for (index, (name, value)) in lines.into_iter().enumerate() {
            let row = u32::try_from(index).unwrap_or(u32::MAX);
            about.write_string_with_format(row, 0, name, &formats.header)?;
            xlsx_row(about, row, [Field::Empty, value.field()], self.tz, &formats)?;
        }
        workbook.save_to_buffer()
    }
}

/// The changes from `before` to `now`: absolute, and in percent where there was something before.
fn changes(now: &Figures, before: &Figures) -> Vec<(&'static str, Option<f64>)> {
    let pct = |a: f64, b: f64| (b > 0.0).then(|| round2((a - b) / b * 100.0));
    vec![
        ("activities", Some(round2(now.activities - before.activities))),
        ("activities_pct", pct(now.activities, before.activities)),
        ("hours", Some(round2(now.hours - before.hours))),
        ("hours_pct", pct(now.hours, before.hours)),
        ("contacts", Some(round2(now.contacts - before.contacts))),
        ("contacts_pct", pct(now.contacts, before.contacts)),
    ]
}

fn change_header(lang: Lang, name: &str) -> String {
    let (sv, en) = match name {
        "activities" => ("Förändring aktiviteter", "Change in activities"),
        "activities_pct" => ("Förändring aktiviteter %", "Change in activities %"),
        "hours" => ("Förändring timmar", "Change in hours"),
        "hours_pct" => ("Förändring timmar %", "Change in hours %"),
        "contacts" => ("Förändring kontakter", "Change in contacts"),
        _ => ("Förändring kontakter %", "Change in contacts %"),
    };
    lang.pick(sv, en).to_owned()
}

/// The header of a grouping column.
pub fn dimension_header(lang: Lang, dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Type => lang.pick("Aktivitetstyp", "Activity type"),
        Dimension::Unit => lang.pick("Enhet", "Unit"),
        Dimension::Area => lang.pick("Område", "Area"),
        Dimension::Gender => lang.pick("Kön", "Gender"),
        Dimension::AgeBand => lang.pick("Åldersgrupp", "Age band"),
    }
}

/// The label of a gender or age bucket.
pub fn bucket_label(lang: Lang, bucket: &str) -> &'static str {
    match bucket {
        "girls" => lang.pick("Flickor", "Girls"),
        "boys" => lang.pick("Pojkar", "Boys"),
        "other" => lang.pick("Annat kön", "Other gender"),
        "not_stated" => lang.pick("Kön ej angivet", "Gender not stated"),
        "under_13" => lang.pick("Under 13 år", "Under 13"),
        "13_15" => lang.pick("13–15 år", "13–15"),
        "16_17" => lang.pick("16–17 år", "16–17"),
        "18_24" => lang.pick("18–24 år", "18–24"),
        "25_plus" => lang.pick("25 år och äldre", "25 and over"),
        _ => lang.pick("Ålder okänd", "Age unknown"),
    }
}
