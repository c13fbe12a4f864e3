//! Organisations, units, users and devices: the newtypes that make bad identity input unrepresentable.

use super::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user may do. Checked by the extractor in every handler's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reports observations and activities; sees their own records.
    Field,
    /// Sees everything in the organisation, reviews and exports.
    Coordinator,
    /// Sees aggregates for shared areas only.
    Partner,
    /// Manages users, devices, areas and reference data.
    Admin,
}

impl Role {
    /// Every role, in the order documentation lists them.
    pub const ALL: [Role; 4] = [Role::Field, Role::Coordinator, Role::Partner, Role::Admin];

    /// The stable name used in tokens, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Field => "field",
            Role::Coordinator => "coordinator",
            Role::Partner => "partner",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name, naming the field on failure.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        value.parse().map_err(|_| {
            FieldError::new(
                field,
                "unknown_role",
                format!("unknown role `{value}`; expected field, coordinator, partner or admin"),
            )
        })
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(value: &str) -> Result<Self, ()> {
        Role::ALL.into_iter().find(|role| role.as_str() == value).ok_or(())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A short stable identifier: lowercase letters, digits, `-` and `_`, 1–63 characters, starting
/// with a letter or digit. Used for organisation and unit slugs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug, naming the field on failure.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let ok = (1..=63).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "invalid_slug",
                "use 1–63 lowercase letters a–z, digits, `-` or `_`, starting with a letter or digit",
            ))
        }
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A login name, unique within an organisation: 1–64 characters of lowercase letters, digits,
/// `.`, `-`, `_` and `@`. Stored lowercased so that `Anna` and `anna` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Parses a username (case-insensitively), naming the field on failure.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let lowered = value.trim().to_lowercase();
        let ok = (1..=64).contains(&lowered.chars().count())
            && lowered.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
        if ok {
            Ok(Self(lowered))
        } else {
            Err(FieldError::new(field, "invalid_username", "use 1–64 letters, digits, `.`, `-`, `_` or `@`"))
        }
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: at least 10 and at most 256 characters. Never printed.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    /// The shortest password accepted.
    pub const MIN_CHARS: usize = 10;

    /// Parses a new password, naming the field on failure.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let chars = value.chars().count();
        if chars < Self::MIN_CHARS {
            Err(FieldError::new(
                field,
                "too_short",
                format!("a password needs at least {} characters", Self::MIN_CHARS),
            ))
        } else if chars > 256 {
            Err(FieldError::new(field, "too_long", "a password may have at most 256 characters"))
        } else {
            Ok(Self(value.to_owned()))
        }
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// A display name or organisation name: trimmed, 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    /// Parses a name, naming the field on failure.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            Err(FieldError::new(field, "required", "must not be empty"))
        } else if trimmed.chars().count() > 200 {
            Err(FieldError::new(field, "too_long", "may have at most 200 characters"))
        } else if trimmed.chars().any(char::is_control) {
            Err(FieldError::new(field, "invalid_characters", "must not contain control characters"))
        } else {
            Ok(Self(trimmed.to_owned()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id a phone generates for itself at install: 1–100 characters of letters, digits, `.`,
/// `_`, `:` and `-` (a UUID fits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DeviceId(String);

impl DeviceId {
    /// Parses a device id, naming the field on failure.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let ok = (1..=100).contains(&value.len())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "invalid_device_id",
                "use 1–100 characters of letters, digits, `.`, `_`, `:` or `-`",
            ))
        }
    }

    /// The device id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a device is: a phone running the field app, or a browser signed in to the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// The field app on a phone (the default: what older clients are).
    Phone,
    /// A dashboard session in a browser.
    Dashboard,
}

impl DeviceKind {
    /// The stable name used in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Phone => "phone",
            DeviceKind::Dashboard => "dashboard",
        }
    }

    /// Parses a device kind, naming the field on failure.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        match value {
            "phone" => Ok(DeviceKind::Phone),
            "dashboard" => Ok(DeviceKind::Dashboard),
            _ => Err(FieldError::new(
                field,
                "unknown_device_kind",
                format!("unknown device kind `{value}`; expected phone or dashboard"),
            )),
        }
    }
}

/// The browser and system a User-Agent names, as people call them ("Chrome · Android",
/// "Safari · iPhone"); `None` when it names neither.
pub fn platform_of(user_agent: &str) -> Option<String> {
    let has = |needle: &str| user_agent.contains(needle);
    let browser = if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Some("Edge")
    } else if has("SamsungBrowser/") {
        Some("Samsung Internet")
    } else if has("OPR/") {
        Some("Opera")
    } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
        Some("Chrome")
    } else if has("Safari/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("iPhone") {
        Some("iPhone")
    } else if has("iPad") {
        Some("iPad")
    } else if has("Android") {
        Some("Android")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(browser), Some(system)) => Some(format!("{browser} · {system}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

/// An IANA time zone such as `Europe/Stockholm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    /// Parses an IANA zone name, naming the field on failure.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        value.parse::<chrono_tz::Tz>().map(Self).map_err(|_| {
            FieldError::new(
                field,
                "unknown_time_zone",
                format!("`{value}` is not an IANA time zone such as Europe/Stockholm"),
            )
        })
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_words() {
        assert!(Slug::parse("slug", "tyreso").is_ok());
        assert!(Slug::parse("slug", "falt_2").is_ok());
        assert_eq!(Slug::parse("slug", "Tyresö").unwrap_err().code, "invalid_slug");
        assert_eq!(Slug::parse("slug", "").unwrap_err().field, "slug");
        assert!(Slug::parse("slug", "-lead").is_err());
    }

    #[test]
    fn usernames_are_case_insensitive() {
        assert_eq!(Username::parse("u", " Anna ").unwrap().as_str(), "anna");
        assert!(Username::parse("u", "anna svensson").is_err());
    }

    #[test]
    fn passwords_never_print() {
        let password = NewPassword::parse("password", "correct horse battery").unwrap();
        assert_eq!(format!("{password:?}"), "NewPassword(***)");
        assert_eq!(NewPassword::parse("password", "short").unwrap_err().code, "too_short");
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse("role", role.as_str()), Ok(role));
        }
        assert_eq!(Role::parse("role", "root").unwrap_err().code, "unknown_role");
    }

    #[test]
    fn device_kinds_parse() {
        assert_eq!(DeviceKind::parse("k", "dashboard"), Ok(DeviceKind::Dashboard));
        assert_eq!(DeviceKind::parse("k", "phone").map(DeviceKind::as_str), Ok("phone"));
        assert_eq!(DeviceKind::parse("k", "tablet").unwrap_err().code, "unknown_device_kind");
    }

    #[test]
    fn platforms_read_from_user_agents() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                Some("Chrome · Android"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                Some("Safari · iPhone"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                Some("Edge · Windows"),
            ),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", Some("Firefox · Linux")),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
                Some("Samsung Internet · Android"),
            ),
            ("curl/8.5.0", None),
        ];
        for (agent, platform) in cases {
            assert_eq!(platform_of(agent).as_deref(), platform, "{agent}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(TimeZone::parse("tz", "Europe/Stockholm").unwrap().name(), "Europe/Stockholm");
        assert!(TimeZone::parse("tz", "CET+1").is_err());
    }
}
