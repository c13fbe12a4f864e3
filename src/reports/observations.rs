//! The observation export: raw records for coordinators as CSV, XLSX or GeoJSON (RFC 7946), each
//! with links to its photos, or as a ZIP of the CSV and the photos themselves; counts per area and
//! category for partners. It reads in keyset pages and writes as it reads, so memory stays flat
//! however many rows (and photos) there are.

use super::Lang;
use super::table::{
    Cell, Column, CsvStyle, Field, SheetFormats, local_iso, sheet_name, xlsx_filter, xlsx_header, xlsx_row,
};
use crate::db::DbConnection;
use crate::db::queries::reports::{self, ExportRow, Labels, ObservationFilter};
use chrono_tz::Tz;
use rust_xlsxwriter::Workbook;
use serde_json::{Value, json};
use std::io::{Seek, Write};

/// Rows read per query.
const PAGE: i64 = 5_000;
/// Data rows per XLSX sheet (Excel's limit is 1,048,576 with the header).
const SHEET_ROWS: u32 = 1_000_000;

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv {
        semicolon: bool,
    },
    Xlsx,
    GeoJson,
    /// The CSV and the photos, in one ZIP.
    Zip,
}

impl Format {
    /// Reads `format` and `sep`.
    pub fn parse(format: Option<&str>, sep: Option<&str>) -> Result<Self, (&'static str, &'static str)> {
        let semicolon = match sep.map(str::trim) {
            None | Some("" | "comma" | ",") => false,
            Some("semicolon" | ";") => true,
            Some(_) => return Err(("sep", "use comma (the default) or semicolon")),
        };
        match format.map(str::trim) {
            None | Some("" | "csv") => Ok(Self::Csv { semicolon }),
            Some("xlsx") => Ok(Self::Xlsx),
            Some("geojson") => Ok(Self::GeoJson),
            Some("zip") => Ok(Self::Zip),
            Some(_) => Err(("format", "use csv, xlsx, geojson or zip")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Csv { .. } => "csv",
            Self::Xlsx => "xlsx",
            Self::GeoJson => "geojson",
            Self::Zip => "zip",
        }
    }

    pub fn extension(self) -> &'static str {
        self.name()
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv { .. } => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::GeoJson => "application/geo+json",
            Self::Zip => "application/zip",
        }
    }
}

/// What every export of one request shares.
pub struct Export<'a> {
    pub organisation_id: &'a str,
    pub filter: &'a ObservationFilter,
    pub tz: Tz,
    pub lang: Lang,
    pub labels: &'a Labels,
    /// What photo links start with (`https://host`), before `/api/v1/attachments/{id}/photo`;
    /// empty for links relative to the server.
    pub photo_base: &'a str,
}

/// The photos of one page of observations: observation id → (attachment id, photo hash) of the
/// attachments whose bytes arrived.
type PagePhotos = std::collections::HashMap<String, Vec<(String, String)>>;

/// The name of a photo in the ZIP export.
fn zip_name(observation_id: &str, attachment_id: &str) -> String {
    format!("foton/{observation_id}/{attachment_id}.jpg")
}

fn columns(lang: Lang) -> Vec<Column> {
    [
        ("id", "id", 38.0),
        ("Observerad", "Observed at", 18.0),
        ("Kategori", "Category", 14.0),
        ("Kategori (text)", "Category (label)", 22.0),
        ("Allvarlighet", "Severity", 10.0),
        ("Upplevd trygghet", "Perceived safety", 10.0),
        ("Antal personer", "People", 10.0),
        ("Åldersgrupp", "Age band", 12.0),
        ("Behöver uppföljning", "Needs follow-up", 10.0),
        ("Status", "Status", 12.0),
        ("Kommentar", "Comment", 30.0),
        ("Anteckning", "Note", 40.0),
        ("Maskerad", "Redacted", 10.0),
        ("Latitud", "Latitude", 11.0),
        ("Longitud", "Longitude", 11.0),
        ("Noggrannhet (m)", "Accuracy (m)", 10.0),
        ("Områdeskod", "Area code", 12.0),
        ("Område", "Area", 20.0),
        ("H3-cell", "H3 cell", 17.0),
        ("Foton", "Photos", 40.0),
    ]
    .into_iter()
    .map(|(sv, en, width)| Column::new(lang.pick(sv, en), width))
    .collect()
}

impl Export<'_> {
    /// Reads every matching row in pages and hands each page to `write`; returns the count.
    fn each_page(
        &self,
        conn: &mut DbConnection,
        progress: &mut dyn FnMut(u64),
        mut write: impl FnMut(&[ExportRow], &PagePhotos) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let mut after: Option<(i64, String)> = None;
        let mut total = 0u64;
        loop {
            let page = reports::observations_page(conn, self.organisation_id, self.filter, after.as_ref(), PAGE)?;
            let ids: Vec<String> = page.iter().map(|row| row.id.clone()).collect();
            let mut photos = PagePhotos::new();
            for (attachment, photo) in crate::db::queries::photos::of_observations(conn, self.organisation_id, &ids)? {
                if photo.is_some() {
                    photos.entry(attachment.observation_id).or_default().push((attachment.id, attachment.sha256));
                }
            }
            write(&page, &photos)?;
            total += page.len() as u64;
            progress(total);
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => after = Some((last.observed_at, last.id.clone())),
                _ => return Ok(total),
            }
        }
    }

    /// Writes the records as CSV.
    pub fn csv(
        &self,
        conn: &mut DbConnection,
        semicolon: bool,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<u64> {
        let style = CsvStyle { semicolon, tz: self.tz };
        let mut writer = style.writer(out, &columns(self.lang))?;
        let mut scratch = String::with_capacity(64);
        let total = self.each_page(conn, progress, |page, photos| {
            for row in page {
                let links = self.links(row, photos, false).join(" ");
                for field in self.fields(row, &links) {
                    style.field(&mut writer, field, &mut scratch)?;
                }
                writer.write_record(None::<&[u8]>)?;
            }
            Ok(())
        })?;
        writer.flush()?;
        Ok(total)
    }

    /// A row's photos: links to the server, or (in the ZIP) the names of the files beside the CSV.
    fn links(&self, row: &ExportRow, photos: &PagePhotos, in_zip: bool) -> Vec<String> {
        photos
            .get(&row.id)
            .map(|ids| {
                ids.iter()
                    .map(|(id, _)| {
                        if in_zip {
                            zip_name(&row.id, id)
                        } else {
                            format!("{}/api/v1/attachments/{id}/photo", self.photo_base)
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A row's cells borrowed, in the order of [`columns`]; `photos` joined by spaces.
    fn fields<'r>(&'r self, row: &'r ExportRow, photos: &'r str) -> [Field<'r>; 20] {
        let text = |t: &'r Option<String>| t.as_deref().map_or(Field::Empty, Field::Text);
        [
            Field::Text(&row.id),
            Field::Time(row.observed_at),
            Field::Text(&row.category),
            Field::Text(self.category_label(&row.category)),
            Field::Int(i64::from(row.severity)),
            Field::Int(i64::from(row.perceived_safety)),
            row.people_count.map_or(Field::Empty, |n| Field::Int(i64::from(n))),
            text(&row.age_band),
            Field::Bool(row.needs_follow_up),
            Field::Text(&row.status),
            text(&row.review_comment),
            Field::Text(&row.note),
            Field::Bool(row.redacted),
            Field::Num(row.lat),
            Field::Num(row.lon),
            row.accuracy_m.map_or(Field::Empty, Field::Num),
            text(&row.area_code),
            row.area_code.as_deref().map_or(Field::Empty, |c| Field::Text(self.area_name(c))),
            text(&row.cell),
            if photos.is_empty() { Field::Empty } else { Field::Text(photos) },
        ]
    }

    fn category_label<'r>(&'r self, slug: &'r str) -> &'r str {
        self.labels.categories.get(slug).map_or(slug, |(sv, en)| if self.lang == Lang::Sv { sv } else { en })
    }

    fn area_name<'r>(&'r self, code: &'r str) -> &'r str {
        self.labels.areas.get(code).map_or(code, String::as_str)
    }

    /// Writes the records as a GeoJSON FeatureCollection of points.
    pub fn geojson(
        &self,
        conn: &mut DbConnection,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<u64> {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
        out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[")?;
        let mut first = true;
        let total = self.each_page(conn, progress, |page, photos| {
            for row in page {
                let feature = json!({
                    "type": "Feature",
                    "id": row.id,
                    "geometry": { "type": "Point", "coordinates": [row.lon, row.lat] },
                    "properties": {
                        "observed_at": local_iso(self.tz, row.observed_at),
                        "category": row.category,
                        "category_label": self.category_label(&row.category),
                        "severity": row.severity,
                        "perceived_safety": row.perceived_safety,
                        "people_count": row.people_count,
                        "age_band": row.age_band,
                        "needs_follow_up": row.needs_follow_up,
                        "status": row.status,
                        "review_comment": row.review_comment,
                        "note": row.note,
                        "redacted": row.redacted,
                        "accuracy_m": row.accuracy_m,
                        "area_code": row.area_code,
                        "area": row.area_code.as_deref().map(|c| self.area_name(c)),
                        "cell": row.cell,
                        "photos": self.links(row, photos, false),
                    },
                });
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                serde_json::to_writer(&mut out, &feature)?;
            }
            Ok(())
        })?;
        out.write_all(b"]}")?;
        out.flush()?;
        Ok(total)
    }

    /// Writes the records as XLSX into `file` (rows go to disk as they are written), a new sheet
    /// every million rows, and a sheet that states the filters.
    pub fn xlsx<F: Write + Seek + Send>(
        &self,
        conn: &mut DbConnection,
        file: F,
        filters: &[(String, String)],
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<u64> {
        let mut workbook = Workbook::new();
        let formats = SheetFormats::default();
        let columns = columns(self.lang);
        let title = self.lang.pick("Observationer", "Observations");
        let mut sheets = 0u32;
        let mut written = SHEET_ROWS;
        let mut sheet_index = Vec::new();
        let total = self.each_page(conn, progress, |page, photos| {
            for row in page {
                if written == SHEET_ROWS {
                    if let Some(&index) = sheet_index.last() {
                        xlsx_filter(workbook.worksheet_from_index(index)?, written, columns.len())?;
                    }
                    sheets += 1;
                    let sheet = workbook.add_worksheet_with_constant_memory()?;
                    let name = if sheets == 1 { title.to_owned() } else { format!("{title} {sheets}") };
                    sheet.set_name(sheet_name(&name))?;
                    xlsx_header(sheet, &columns, &formats)?;
                    sheet_index.push(usize::try_from(sheets - 1).unwrap_or_default());
                    written = 0;
                }
                let index = sheet_index.last().copied().unwrap_or_default();
                written += 1;
                let links = self.links(row, photos, false).join(" ");
                xlsx_row(workbook.worksheet_from_index(index)?, written, self.fields(row, &links), self.tz, &formats)?;
            }
            Ok(())
        })?;
        if let Some(&index) = sheet_index.last() {
            xlsx_filter(workbook.worksheet_from_index(index)?, written, columns.len())?;
        } else {
            let sheet = workbook.add_worksheet();
            sheet.set_name(title)?;
            xlsx_header(sheet, &columns, &formats)?;
        }
        about_sheet(&mut workbook, self.lang, self.tz, filters, None, &formats)?;
        workbook.save_to_writer(file)?;
        Ok(total)
    }
}

impl Export<'_> {
    /// Writes a ZIP of `observationer.csv` (its photo column naming the files beside it) and every
    /// photo of the matching observations under `foton/{observation}/{attachment}.jpg`, streamed:
    /// one photo is held at a time, however many there are. Returns the observations written.
    pub fn zip(
        &self,
        conn: &mut DbConnection,
        store: &crate::photos::store::PhotoStore,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<u64> {
        use zip::write::SimpleFileOptions;
        let mut archive = zip::ZipWriter::new_stream(out);
        let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(true);
        archive.start_file(format!("{}.csv", self.lang.pick("observationer", "observations")), stored)?;
        let style = CsvStyle { semicolon: false, tz: self.tz };
        let total = {
            let mut writer = style.writer(&mut archive, &columns(self.lang))?;
            let mut scratch = String::with_capacity(64);
            let total = self.each_page(conn, progress, |page, photos| {
                for row in page {
                    let names = self.links(row, photos, true).join(" ");
                    for field in self.fields(row, &names) {
                        style.field(&mut writer, field, &mut scratch)?;
                    }
                    writer.write_record(None::<&[u8]>)?;
                }
                Ok(())
            })?;
            writer.flush()?;
            total
        };
        // The page query read the attachments with their photos: a photo removed since is not
        // in the store, and left out.
        self.each_page(conn, &mut |_| {}, |page, photos| {
            for row in page {
                for (attachment_id, sha256) in photos.get(&row.id).into_iter().flatten() {
                    let key =
                        crate::photos::store::key(self.organisation_id, sha256, crate::photos::store::Variant::Photo);
                    if let Some(bytes) = store.get(&key)? {
                        archive.start_file(zip_name(&row.id, attachment_id), stored)?;
                        archive.write_all(&bytes)?;
                    }
                }
            }
            Ok(())
        })?;
        archive.finish()?;
        Ok(total)
    }
}

/// The sheet that states what an export holds: its filters, when it was made and the
/// suppression rule.
pub fn about_sheet(
    workbook: &mut Workbook,
    lang: Lang,
    tz: Tz,
    filters: &[(String, String)],
    suppression_k: Option<u32>,
    formats: &SheetFormats,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(lang.pick("Om exporten", "About"))?;
    sheet.set_column_width(0, 24)?;
    sheet.set_column_width(1, 60)?;
    let mut lines: Vec<(String, Cell)> = vec![
        (lang.pick("Skapad", "Generated").to_owned(), Cell::Time(chrono::Utc::now().timestamp_millis())),
        (lang.pick("Tidszon", "Time zone").to_owned(), Cell::Text(tz.name().to_owned())),
    ];
    lines.extend(filters.iter().map(|(name, value)| (name.clone(), Cell::Text(value.clone()))));
    lines.push((
        lang.pick("Undertryckning", "Suppression").to_owned(),
        Cell::Text(match suppression_k {
            Some(k) => format!(
                "{} {k}",
                lang.pick("Antal under k visas inte (tomma); k =", "Counts below k are not shown (empty); k =")
            ),
            None => lang.pick("Ingen undertryckning", "No suppression").to_owned(),
        }),
    ));
    for (index, (name, value)) in lines.iter().enumerate() {
        let row = u32::try_from(index).unwrap_or(u32::MAX);
        sheet.write_string_with_format(row, 0, name, &formats.header)?;
        xlsx_row(sheet, row, [Field::Empty, value.field()], tz, formats)?;
    }
    Ok(())
}

/// What partners get instead of records: the published cells of a tertial (observations per
/// area as recorded and category, each at least k; the partner disclosure rule), as a table.
pub fn partner_table(cells: &[(String, String, u32)], labels: &Labels, lang: Lang) -> (Vec<Column>, Vec<Vec<Cell>>) {
    let columns = vec![
        Column::new(lang.pick("Områdeskod", "Area code"), 12.0),
        Column::new(lang.pick("Område", "Area"), 20.0),
        Column::new(lang.pick("Kategori", "Category"), 14.0),
        Column::new(lang.pick("Kategori (text)", "Category (label)"), 22.0),
        Column::new(lang.pick("Observationer", "Observations"), 12.0),
    ];
    let rows = cells
        .iter()
        .map(|(area, category, n)| {
            vec![
                Cell::Text(area.clone()),
                Cell::Text(labels.areas.get(area).cloned().unwrap_or_else(|| area.clone())),
                Cell::Text(category.clone()),
                Cell::Text(
                    labels
                        .categories
                        .get(category)
                        .map(|(sv, en)| if lang == Lang::Sv { sv.clone() } else { en.clone() })
                        .unwrap_or_else(|| category.clone()),
                ),
                Cell::Int(i64::from(*n)),
            ]
        })
        .collect();
    (columns, rows)
}

/// Writes a small table as CSV.
pub fn table_csv(columns: &[Column], rows: &[Vec<Cell>], style: CsvStyle, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut writer = style.writer(out, columns)?;
    for row in rows {
        style.row(&mut writer, row)?;
    }
    writer.flush()?;
    Ok(())
}

/// A small table as an XLSX workbook with its about sheet.
pub fn table_xlsx(
    name: &str,
    columns: &[Column],
    rows: &[Vec<Cell>],
    lang: Lang,
    tz: Tz,
    filters: &[(String, String)],
    suppression_k: Option<u32>,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = Workbook::new();
    let formats = SheetFormats::default();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name(name))?;
    xlsx_header(sheet, columns, &formats)?;
    for (index, row) in rows.iter().enumerate() {
        xlsx_row(sheet, u32::try_from(index + 1).unwrap_or(u32::MAX), row.iter().map(Cell::field), tz, &formats)?;
    }
    xlsx_filter(sheet, u32::try_from(rows.len()).unwrap_or(u32::MAX), columns.len())?;
    about_sheet(&mut workbook, lang, tz, filters, suppression_k, &formats)?;
    workbook.save_to_buffer()
}

/// The filters as the about sheet lists them.
pub fn describe_filters(filters: &Value) -> Vec<(String, String)> {
    filters
        .as_object()
        .map(|object| {
            object
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default()
}
