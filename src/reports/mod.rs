//! Follow-up: activity counts, exports and the printable follow-up report, rendered from what the
//! database holds, as JSON, CSV, XLSX, GeoJSON or HTML.

pub mod activity_report;
pub mod figure;
pub mod followup;
pub mod observations;
pub mod table;

/// The language of labels and headers: Swedish by default, English on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Sv,
    En,
}

impl Lang {
    /// Reads `lang`: `sv` (the default) or `en`.
    pub fn parse(text: Option<&str>) -> Option<Self> {
        match text.map(str::trim) {
            None | Some("" | "sv") => Some(Self::Sv),
            Some("en") => Some(Self::En),
            Some(_) => None,
        }
    }

    /// The text in this language.
    pub fn pick(self, sv: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Sv => sv,
            Self::En => en,
        }
    }
}
