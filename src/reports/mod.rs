//! Follow-up: activity counts, exports and the printable follow-up report, rendered from what the
//! database holds, as JSON, CSV, XLSX, GeoJSON or HTML.

pub mod activity_report;
pub mod documents;
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

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
