//! Photo attachments as the sync protocol carries them: a phone pushes the metadata of a photo it
//! took for an observation (the SHA-256 of the bytes it will upload, their type, size and
//! dimensions); the bytes follow on their own endpoint. An attachment never changes once stored:
//! a different photo is a new attachment, and a removed one is deleted.

use super::records::{integer, optional, required, text};
use super::{FieldError, FieldErrors};
use crate::photos::image::ACCEPTED_TYPES;
use serde_json::{Map, Value, json};

/// What attachments are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoRules {
    /// Largest photo, as uploaded.
    pub max_bytes: u64,
    /// Most pixels a photo may have.
    pub max_pixels: u64,
    /// Most photos on one observation.
    pub per_observation: u32,
}

impl Default for PhotoRules {
    fn default() -> Self {
        let settings = crate::config::Settings::default();
        Self::from(&settings)
    }
}

impl From<&crate::config::Settings> for PhotoRules {
    fn from(settings: &crate::config::Settings) -> Self {
        Self {
            max_bytes: settings.photo_max_bytes,
            max_pixels: settings.photo_max_pixels,
            per_observation: settings.photos_per_observation,
        }
    }
}

/// An attachment's content, as pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentContent {
    pub observation_id: String,
    /// Lower-case hex.
    pub sha256: String,
    pub content_type: String,
    pub byte_size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// When the photo was attached, on the device's clock (ms); the server's time when absent.
    pub created_at: Option<i64>,
}

impl AttachmentContent {
    /// Whether a stored attachment is this one (what a replayed push finds).
    pub fn same_as(&self, other: &AttachmentContent) -> bool {
        (&self.observation_id, &self.sha256, &self.content_type, self.byte_size, self.width, self.height)
            == (&other.observation_id, &other.sha256, &other.content_type, other.byte_size, other.width, other.height)
    }
}

/// A content hash as it is written: 64 hexadecimal digits.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads a pushed attachment, naming every field at fault.
pub fn parse(raw: &Map<String, Value>, rules: &PhotoRules) -> Result<AttachmentContent, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let observation_id = errors.check(required(raw, "observation_id", text).and_then(|id| {
        let plain = id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if plain {
            Ok(id)
        } else {
            Err(FieldError::new(
                "observation_id",
                "invalid_format",
                "must be a record id: 1–64 letters, digits, - or _",
            ))
        }
    }));
    let sha256 = errors.check(required(raw, "sha256", text).and_then(|hash| {
        if is_sha256(&hash) {
            Ok(hash.to_ascii_lowercase())
        } else {
            Err(FieldError::new("sha256", "invalid_format", "must be the SHA-256 of the photo: 64 hexadecimal digits"))
        }
    }));
    let content_type = errors.check(required(raw, "content_type", text).and_then(|kind| {
        let kind = kind.to_ascii_lowercase();
        if ACCEPTED_TYPES.contains(&kind.as_str()) {
            Ok(kind)
        } else if kind.contains("heic") || kind.contains("heif") {
            Err(FieldError::new(
                "content_type",
                "heic_unsupported",
                "HEIC/HEIF photos are not accepted: send them as JPEG, PNG or WebP",
            ))
        } else {
            Err(FieldError::new(
                "content_type",
                "unsupported_type",
                format!("must be one of {}", ACCEPTED_TYPES.join(", ")),
            ))
        }
    }));
    let max_bytes = i64::try_from(rules.max_bytes).unwrap_or(i64::MAX);
    let byte_size = errors.check(required(raw, "byte_size", |f, v| integer(f, v, 1, i64::MAX)).and_then(|size| {
        if size > max_bytes {
            Err(FieldError::new("byte_size", "too_large", format!("a photo may have at most {max_bytes} bytes")))
        } else {
            Ok(size)
        }
    }));
    let dimension = |field: &str| optional(raw, field, |f, v| integer(f, v, 1, 1_000_000)).map(|n| n.map(narrow));
    let width = errors.check(dimension("width")).flatten();
    let height = errors.check(dimension("height")).flatten();
    if let (Some(width), Some(height)) = (width, height) {
        let pixels = u64::try_from(i64::from(width) * i64::from(height)).unwrap_or(u64::MAX);
        if pixels > rules.max_pixels {
            errors.0.push(FieldError::new(
                "width",
                "too_many_pixels",
                format!("a photo may have at most {} pixels", rules.max_pixels),
            ));
        }
    }
    let created_at = errors.check(optional(raw, "created_at", |f, v| integer(f, v, 0, i64::MAX)));
    errors.finish()?;
    match (observation_id, sha256, content_type, byte_size, created_at) {
        (Some(observation_id), Some(sha256), Some(content_type), Some(byte_size), Some(created_at)) => {
            Ok(AttachmentContent { observation_id, sha256, content_type, byte_size, width, height, created_at })
        }
        _ => Err(vec![FieldError::new("id", "invalid", "the attachment could not be read")]),
    }
}

fn narrow(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// A stored attachment, as pulls carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub organisation_id: String,
    pub id: String,
    pub content: AttachmentContent,
    /// The observation's reporter.
    pub observation_user_id: String,
    /// Who attached it.
    pub user_id: String,
    pub device_id: String,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
    pub created_seq: i64,
    pub server_seq: i64,
}

impl Attachment {
    /// The record as a pull sends it.
    pub fn to_raw(&self) -> Map<String, Value> {
        let content = &self.content;
        let Value::Object(raw) = json!({
            "id": self.id,
            "observation_id": content.observation_id,
            "sha256": content.sha256,
            "content_type": content.content_type,
            "byte_size": content.byte_size,
            "width": content.width,
            "height": content.height,
            "created_at": self.created_at,
            "user_id": self.user_id,
        }) else {
            return Map::new();
        };
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_field_at_fault_is_named() {
        let errors = parse(
            &raw(json!({"observation_id": "../x", "sha256": "abc", "content_type": "image/heic", "byte_size": 0})),
            &PhotoRules::default(),
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("observation_id", "invalid_format"),
                ("sha256", "invalid_format"),
                ("content_type", "heic_unsupported"),
                ("byte_size", "out_of_range")
            ]
        );
    }

    #[test]
    fn a_photo_larger_than_the_limit_is_refused_by_its_declared_size() {
        let rules = PhotoRules { max_bytes: 1000, ..PhotoRules::default() };
        let errors = parse(
            &raw(json!({"observation_id": "o1", "sha256": "a".repeat(64), "content_type": "image/jpeg", "byte_size": 1001})),
            &rules,
        )
        .unwrap_err();
        assert_eq!(errors[0].code, "too_large");
    }

    proptest! {
        #[test]
        fn any_json_object_is_read_or_refused_with_named_fields(
            keys in proptest::collection::vec(prop_oneof![
                Just("observation_id"), Just("sha256"), Just("content_type"), Just("byte_size"),
                Just("width"), Just("height"), Just("created_at")], 0..7),
            values in proptest::collection::vec(prop_oneof![
                Just(Value::Null), any::<i64>().prop_map(Value::from), any::<f64>().prop_map(Value::from),
                ".{0,80}".prop_map(Value::from), Just(Value::from("a".repeat(64))), Just(Value::from("image/png"))], 7),
        ) {
            let raw: Map<String, Value> = keys.iter().zip(values).map(|(k, v)| (k.to_string(), v)).collect();
            match parse(&raw, &PhotoRules::default()) {
                Ok(content) => {
                    prop_assert!(is_sha256(&content.sha256));
                    prop_assert!(content.byte_size >= 1);
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    prop_assert!(errors.iter().all(|e| !e.field.is_empty() && !e.code.is_empty()));
                }
            }
        }
    }
}
