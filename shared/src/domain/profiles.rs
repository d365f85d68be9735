//! Processing profiles, as the original service's clients manage them: named, immutable sets of
//! processing settings, of which exactly one is active. Each upload is processed with the profile
//! active when it arrived. Profiles are never edited, only duplicated, so a document's settings
//! are its profile's for as long as it exists.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chunk_quality::QualityRules;
use crate::Error;

/// A profile's settings, in the original's names and with its defaults: stored, and sent to
/// clients, as this JSON, in which a missing setting takes its default. Only the quality
/// settings change how this service processes a document (see the README's Compatibility
/// section); the others are kept and shown as the original's clients set them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileSettings {
    pub pdf_converter: PdfConverter,
    pub pdf_ocr_mode: OcrMode,
    #[schema(max_length = 100)]
    pub pdf_ocr_languages: String,
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "whole")]
    pub conversion_table_rows: u32,
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "whole")]
    pub conversion_table_cols: u32,
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "whole")]
    pub max_file_size_mb: u32,
    /// Characters; the quality score's ideal chunk length.
    #[schema(minimum = 100, maximum = 10000)]
    #[serde(deserialize_with = "whole")]
    pub document_chunk_size: u32,
    #[schema(minimum = 0, maximum = 1000)]
    #[serde(deserialize_with = "whole")]
    pub document_chunk_overlap: u32,
    #[schema(minimum = 1, maximum = 6)]
    #[serde(deserialize_with = "whole")]
    pub document_header_levels: u32,
    #[schema(minimum = 50, maximum = 2000)]
    #[serde(deserialize_with = "whole")]
    pub presentation_min_chunk: u32,
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "whole")]
    pub tabular_rows_per_chunk: u32,
    /// A chunk shorter than this is `TOO_SHORT`.
    #[schema(minimum = 10, maximum = 500)]
    #[serde(deserialize_with = "whole")]
    pub quality_min_chars: u32,
    /// A chunk longer than this is `TOO_LONG`.
    #[schema(minimum = 500, maximum = 10000)]
    #[serde(deserialize_with = "whole")]
    pub quality_max_chars: u32,
    /// What each quality flag takes off the score's flag part.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub quality_penalty_per_flag: f64,
    pub auto_fix_enabled: bool,
    #[schema(minimum = 0, maximum = 10)]
    #[serde(deserialize_with = "whole")]
    pub auto_fix_max_passes: u32,
}

/// JSON has no integers apart from other numbers: `1500.0` is 1500, as clients' schema
/// validators read it.
fn whole<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = f64::deserialize(deserializer)?;
    if number.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&number) {
        Ok(number as u32)
    } else {
        Err(serde::de::Error::custom(format!(
            "{number} is not a whole number of at least 0"
        )))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PdfConverter {
    Pymupdf,
    Docling,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    Auto,
    Force,
    Never,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        let quality = QualityRules::DEFAULT;
        Self {
            pdf_converter: PdfConverter::Pymupdf,
            pdf_ocr_mode: OcrMode::Auto,
            pdf_ocr_languages: "en".into(),
            conversion_table_rows: 35,
            conversion_table_cols: 20,
            max_file_size_mb: 50,
            document_chunk_size: quality.ideal_chars as u32,
            document_chunk_overlap: 200,
            document_header_levels: 3,
            presentation_min_chunk: 200,
            tabular_rows_per_chunk: 20,
            quality_min_chars: quality.min_chars as u32,
            quality_max_chars: quality.max_chars as u32,
            quality_penalty_per_flag: quality.penalty_per_flag,
            auto_fix_enabled: true,
            auto_fix_max_passes: 2,
        }
    }
}

impl ProfileSettings {
    /// How chunks processed with these settings are scored.
    pub fn quality_rules(&self) -> QualityRules {
        QualityRules {
            min_chars: self.quality_min_chars as usize,
            max_chars: self.quality_max_chars as usize,
            ideal_chars: self.document_chunk_size as usize,
            penalty_per_flag: self.quality_penalty_per_flag,
        }
    }

    /// The original's bounds on each setting a client may choose, as the schema's attributes
    /// above declare them (clients read them there too).
    pub fn validate(&self) -> Result<(), Error> {
        let json = serde_json::to_value(self)
            .map_err(|e| Error::Internal(format!("cannot encode the settings: {e}")))?;
        for bound in BOUNDS.iter() {
            let value = &json[&bound.name];
            if let (Some(n), Some((low, high))) = (value.as_f64(), bound.range)
                && !(low..=high).contains(&n)
            {
                return Err(invalid(&bound.name, &format!("from {low} to {high}")));
            }
            if let (Some(text), Some(most)) = (value.as_str(), bound.max_length)
                && text.chars().count() > most
            {
                return Err(invalid(&bound.name, &format!("at most {most} characters")));
            }
        }
        Ok(())
    }
}

/// A setting's bounds, read from `ProfileSettings`' schema.
struct Bound {
    name: String,
    range: Option<(f64, f64)>,
    max_length: Option<usize>,
}

static BOUNDS: LazyLock<Vec<Bound>> = LazyLock::new(|| {
    let schema = serde_json::to_value(<ProfileSettings as utoipa::PartialSchema>::schema())
        .expect("a schema is JSON");
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    properties
        .into_iter()
        .map(|(name, p)| Bound {
            range: p["minimum"].as_f64().zip(p["maximum"].as_f64()),
            max_length: p["maxLength"].as_u64().map(|n| n as usize),
            name,
        })
        .collect()
});

fn invalid(name: &str, allowed: &str) -> Error {
    Error::Validation(format!("{name} must be {allowed}"))
}

/// A profile to create: inactive, not the default, not archived.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProfile {
    pub name: String,
    pub description: Option<String>,
    pub settings: ProfileSettings,
}

impl NewProfile {
    /// NUL, which PostgreSQL refuses in text, becomes U+FFFD in the name and description.
    pub fn new(name: String, description: Option<String>, settings: ProfileSettings) -> Self {
        let visible = |text: String| text.replace('\0', "\u{FFFD}");
        Self {
            name: visible(name),
            description: description.map(visible),
            settings,
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        let name = self.name.chars().count();
        if !(1..=100).contains(&name) {
            return Err(invalid("name", "from 1 to 100 characters"));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 500)
        {
            return Err(invalid("description", "at most 500 characters"));
        }
        self.settings.validate()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    pub is_default: bool,
    pub is_archived: bool,
    pub created_at: DateTime<Utc>,
    pub settings: ProfileSettings,
    /// Documents uploaded while it was active.
    pub document_count: i64,
}

/// A duplicate's name: "Default" becomes "Default v2", "Default v2" becomes "Default v3".
pub fn next_version_name(name: &str) -> String {
    let versioned = name
        .rsplit_once(" v")
        .filter(|(base, n)| {
            !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        })
        .and_then(|(base, n)| Some((base, n.parse::<u64>().ok()?)));
    match versioned {
        Some((base, n)) => format!("{base} v{}", n + 1),
        None => format!("{name} v2"),
    }
}

/// What deleting a profile did, or would do once confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileDeletion {
    pub confirmed: bool,
    pub documents: i64,
    pub chunks: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings with `name` set to `value`, if they deserialize.
    fn with(name: &str, value: f64) -> Option<ProfileSettings> {
        let mut json = serde_json::to_value(ProfileSettings::default()).unwrap();
        json[name] = if value.fract() == 0.0 {
            serde_json::json!(value as i64)
        } else {
            serde_json::json!(value)
        };
        serde_json::from_value(json).ok()
    }

    #[test]
    fn validation_enforces_the_bounds_the_schema_states() {
        let schema = <ProfileSettings as utoipa::PartialSchema>::schema();
        let schema = serde_json::to_value(schema).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        let mut bounded = 0;
        for (name, property) in properties {
            let (Some(low), Some(high)) =
                (property["minimum"].as_f64(), property["maximum"].as_f64())
            else {
                continue;
            };
            bounded += 1;
            for inside in [low, high] {
                assert!(
                    with(name, inside).unwrap().validate().is_ok(),
                    "{name} = {inside}"
                );
            }
            let step = if high <= 1.0 { 0.5 } else { 1.0 };
            for outside in [low - step, high + step] {
                let refused = with(name, outside).is_none_or(|s| s.validate().is_err());
                assert!(refused, "{name} = {outside} is accepted");
            }
        }
        assert_eq!(bounded, 12, "{properties:?}");
        let long = ProfileSettings {
            pdf_ocr_languages: "x".repeat(101),
            ..Default::default()
        };
        assert!(
            long.validate()
                .unwrap_err()
                .to_string()
                .contains("pdfOcrLanguages")
        );
    }

    #[test]
    fn duplicates_are_versioned() {
        assert_eq!(next_version_name("Default"), "Default v2");
        assert_eq!(next_version_name("Base v2"), "Base v3");
        assert_eq!(next_version_name("Base v9"), "Base v10");
        assert_eq!(next_version_name("Plan v2b"), "Plan v2b v2");
        assert_eq!(next_version_name(" v3"), " v3 v2");
    }

    #[test]
    fn settings_are_bounded_as_in_the_original() {
        assert_eq!(ProfileSettings::default().validate().ok(), Some(()));
        let small = ProfileSettings {
            document_chunk_size: 50,
            ..Default::default()
        };
        let err = small.validate().unwrap_err().to_string();
        assert!(err.contains("documentChunkSize"), "{err}");
        let ocr = serde_json::from_str::<ProfileSettings>(r#"{"pdfOcrMode": "sometimes"}"#);
        assert!(ocr.is_err());
        let unnamed = NewProfile {
            name: String::new(),
            description: None,
            settings: ProfileSettings::default(),
        };
        assert!(unnamed.validate().is_err());
    }

    #[test]
    fn a_nul_in_a_name_is_replaced() {
        let new = NewProfile::new("a\0b".into(), Some("\0".into()), ProfileSettings::default());
        assert_eq!(
            (new.name.as_str(), new.description.as_deref()),
            ("a\u{FFFD}b", Some("\u{FFFD}"))
        );
    }

    #[test]
    fn stored_settings_keep_the_defaults_they_lack() {
        let settings: ProfileSettings =
            serde_json::from_str(r#"{"documentChunkSize": 800}"#).unwrap();
        assert_eq!(settings.document_chunk_size, 800);
        let whole: ProfileSettings = serde_json::from_str(r#"{"qualityMinChars": 100.0}"#).unwrap();
        assert_eq!(whole.quality_min_chars, 100);
        assert!(serde_json::from_str::<ProfileSettings>(r#"{"qualityMinChars": 99.5}"#).is_err());
        assert_eq!(settings.quality_min_chars, 500);
        let rules = settings.quality_rules();
        assert_eq!((rules.min_chars, rules.ideal_chars), (500, 800));
    }
}
