//! Tables as every export writes them: typed cells, CSV per RFC 4180 (UTF-8 with BOM, comma or the
//! semicolon-and-decimal-comma variant Swedish Excel opens directly) and XLSX sheets with a frozen
//! header, filters, numbers as numbers and dates as dates.

use chrono::TimeZone;
use chrono_tz::Tz;
use rust_xlsxwriter::{ExcelDateTime, Format, Worksheet, XlsxError};
use std::io::Write;

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    /// An instant (ms since the epoch), written in local time.
    Time(i64),
}

impl Cell {
    /// The cell borrowed, as the writers take it.
    pub fn field(&self) -> Field<'_> {
        match self {
            Cell::Empty => Field::Empty,
            Cell::Text(text) => Field::Text(text),
            Cell::Int(n) => Field::Int(*n),
            Cell::Num(x) => Field::Num(*x),
            Cell::Bool(b) => Field::Bool(*b),
            Cell::Time(ms) => Field::Time(*ms),
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::Text(text.to_owned())
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::Text(text)
    }
}

impl From<Option<String>> for Cell {
    fn from(text: Option<String>) -> Self {
        text.map_or(Cell::Empty, Cell::Text)
    }
}

impl From<Option<f64>> for Cell {
    fn from(x: Option<f64>) -> Self {
        x.map_or(Cell::Empty, Cell::Num)
    }
}

impl From<Option<i64>> for Cell {
    fn from(x: Option<i64>) -> Self {
        x.map_or(Cell::Empty, Cell::Int)
    }
}

/// A column: its header and its width in characters for XLSX.
#[derive(Debug, Clone)]
pub struct Column {
    pub header: String,
    pub width: f64,
}

impl Column {
    pub fn new(header: impl Into<String>, width: f64) -> Self {
        Self { header: header.into(), width }
    }
}

/// How CSV is written.
#[derive(Debug, Clone, Copy)]
pub struct CsvStyle {
    /// `;` with decimal commas for Swedish Excel, `,` with decimal points otherwise.
    pub semicolon: bool,
    /// Times are written in this zone, with their offset.
    pub tz: Tz,
}

/// The byte-order mark that tells Excel the file is UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

impl CsvStyle {
    /// A CSV writer in this style over `out`, after writing the BOM and the header row.
    pub fn writer<W: Write>(&self, mut out: W, columns: &[Column]) -> csv::Result<csv::Writer<W>> {
        out.write_all(BOM)?;
        let mut writer = csv::WriterBuilder::new()
            .delimiter(if self.semicolon { b';' } else { b',' })
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        writer.write_record(columns.iter().map(|column| inert(&column.header).into_owned()))?;
        Ok(writer)
    }

    /// Writes one row.
    pub fn row<W: Write>(&self, writer: &mut csv::Writer<W>, cells: &[Cell]) -> csv::Result<()> {
        let mut scratch = String::new();
        for cell in cells {
            self.field(writer, cell.field(), &mut scratch)?;
        }
        writer.write_record(None::<&[u8]>)
    }
}

/// ISO 8601 in local time with its offset, to the second: `2024-06-01T18:30:00+02:00`.
pub fn local_iso(tz: Tz, ms: i64) -> String {
    let mut out = String::with_capacity(25);
    write_local_iso(tz, ms, &mut out);
    out
}

/// Appends [`local_iso`] to `out` without allocating (exports write a million of these).
pub fn write_local_iso(tz: Tz, ms: i64, out: &mut String) {
    use chrono::{Datelike, Offset, Timelike};
    use std::fmt::Write as _;
    if let Some(at) = tz.timestamp_millis_opt(ms).single() {
        let offset = at.offset().fix().local_minus_utc();
        let local = at.naive_local();
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second(),
            if offset < 0 { '-' } else { '+' },
            offset.abs() / 3600,
            offset.abs() % 3600 / 60,
        );
    }
}

/// A cell borrowed from a row, for writing CSV without building the row first.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    Empty,
    Text(&'a str),
    Int(i64),
    Num(f64),
    Bool(bool),
    Time(i64),
}

impl CsvStyle {
    /// Writes one field of the current record; `scratch` is reused between fields.
    pub fn field<W: Write>(
        &self,
        writer: &mut csv::Writer<W>,
        field: Field<'_>,
        scratch: &mut String,
    ) -> csv::Result<()> {
        use std::fmt::Write as _;
        scratch.clear();
        match field {
            Field::Empty => return writer.write_field(""),
            Field::Text(text) => return writer.write_field(inert(text).as_bytes()),
            Field::Bool(b) => return writer.write_field(if b { "true" } else { "false" }),
            Field::Int(n) => {
                let _ = write!(scratch, "{n}");
            }
            Field::Num(x) => {
                let _ = write!(scratch, "{x}");
                if self.semicolon {
                    // A formatted float has at most one '.'.
                    if let Some(at) = scratch.find('.') {
                        scratch.replace_range(at..=at, ",");
                    }
                }
            }
            Field::Time(ms) => write_local_iso(self.tz, ms, scratch),
        }
        writer.write_field(scratch.as_bytes())
    }
}

/// Text as a spreadsheet shows it and never runs it: a cell that begins with what Excel, LibreOffice
/// or Google Sheets would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return, line feed,
/// or their full-width forms) is prefixed with `'`, as OWASP's guidance on CSV injection says. The
/// csv writer quotes any cell holding the separator, a quote or a line break, so a formula cannot
/// begin after a separator inside a cell either.
pub fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    const STARTS_A_FORMULA: &[char] = &['=', '+', '-', '@', '\t', '\r', '\n', '＝', '＋', '－', '＠'];
    if text.starts_with(STARTS_A_FORMULA) { format!("'{text}").into() } else { text.into() }
}

/// Formats shared by the sheets of one workbook.
pub struct SheetFormats {
    pub header: Format,
    pub time: Format,
    pub number: Format,
}

impl Default for SheetFormats {
    fn default() -> Self {
        Self {
            header: Format::new().set_bold().set_background_color("#DDE6F0").set_text_wrap(),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            number: Format::new().set_num_format("0.##"),
        }
    }
}

/// Writes the header row of a sheet, sets the widths and freezes it.
pub fn xlsx_header(sheet: &mut Worksheet, columns: &[Column], formats: &SheetFormats) -> Result<(), XlsxError> {
    for (index, column) in columns.iter().enumerate() {
        let col = u16::try_from(index).unwrap_or(u16::MAX);
        sheet.write_string_with_format(0, col, &column.header, &formats.header)?;
        sheet.set_column_width(col, column.width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Writes one data row.
pub fn xlsx_row<'a>(
    sheet: &mut Worksheet,
    row: u32,
    cells: impl IntoIterator<Item = Field<'a>>,
    tz: Tz,
    formats: &SheetFormats,
) -> Result<(), XlsxError> {
    for (index, cell) in cells.into_iter().enumerate() {
        let col = u16::try_from(index).unwrap_or(u16::MAX);
        match cell {
            Field::Empty => {}
            Field::Text(text) => {
                sheet.write_string(row, col, text)?;
            }
            Field::Int(n) => {
                sheet.write_number(row, col, n as f64)?;
            }
            Field::Num(x) => {
                sheet.write_number_with_format(row, col, x, &formats.number)?;
            }
            Field::Bool(b) => {
                sheet.write_boolean(row, col, b)?;
            }
            Field::Time(ms) => {
                if let Some(at) = excel_time(tz, ms) {
                    sheet.write_datetime_with_format(row, col, &at, &formats.time)?;
                }
            }
        }
    }
    Ok(())
}

/// Turns on filters over the header and `rows` data rows.
pub fn xlsx_filter(sheet: &mut Worksheet, rows: u32, columns: usize) -> Result<(), XlsxError> {
    let last_col = u16::try_from(columns.saturating_sub(1)).unwrap_or(u16::MAX);
    sheet.autofilter(0, 0, rows.max(1), last_col)?;
    Ok(())
}

/// An instant as Excel's local date and time (Excel has no time zones).
fn excel_time(tz: Tz, ms: i64) -> Option<ExcelDateTime> {
    use chrono::{Datelike, Timelike};
    let local = tz.timestamp_millis_opt(ms).single()?.naive_local();
    let year = u16::try_from(local.year()).ok()?;
    ExcelDateTime::from_ymd(year, local.month() as u8, local.day() as u8)
        .ok()?
        .and_hms(local.hour() as u16, local.minute() as u8, f64::from(local.second()))
        .ok()
}

/// A name Excel accepts for a sheet: at most 31 characters, none of `[]:*?/\`.
pub fn sheet_name(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\')).take(31).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_carry_their_offset_across_daylight_saving() {
        let tz = chrono_tz::Europe::Stockholm;
        // 2024-03-31 00:30 UTC is 01:30 CET; 01:30 UTC is 03:30 CEST.
        assert_eq!(local_iso(tz, 1_711_845_000_000), "2024-03-31T01:30:00+01:00");
        assert_eq!(local_iso(tz, 1_711_848_600_000), "2024-03-31T03:30:00+02:00");
    }

    #[test]
    fn semicolon_style_writes_decimal_commas() {
        let written = |semicolon: bool| {
            let style = CsvStyle { semicolon, tz: chrono_tz::Europe::Stockholm };
            let mut out = Vec::new();
            let mut writer = style.writer(&mut out, &[Column::new("x", 1.0), Column::new("n", 1.0)]).unwrap();
            style.row(&mut writer, &[Cell::Num(12.5), Cell::Int(3)]).unwrap();
            drop(writer);
            String::from_utf8(out[BOM.len()..].to_vec()).unwrap()
        };
        assert_eq!(written(true), "x;n\r\n12,5;3\r\n");
        assert_eq!(written(false), "x,n\r\n12.5,3\r\n");
    }

    #[test]
    fn text_a_spreadsheet_would_run_is_prefixed_and_other_text_is_not() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "＝1", "＋1", "－1", "＠A"] {
            assert_eq!(inert(formula), format!("'{formula}"), "{formula:?}");
        }
        for text in ["Trasig lampa", "1-2", " =1", "'quoted", "", "Öringe"] {
            assert_eq!(inert(text), text, "{text:?}");
        }
    }

    #[test]
    fn sheet_names_are_cut_and_cleaned() {
        assert_eq!(sheet_name("Per typ/enhet: [2024]"), "Per typenhet 2024");
        assert_eq!(sheet_name(&"x".repeat(40)).len(), 31);
    }
}
