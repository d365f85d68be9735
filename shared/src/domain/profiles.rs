//! Processing profiles, as the original service's clients manage them: named, immutable sets of
//! processing settings, of which exactly one is active. Each upload is processed with the profile
//! active when it arrived. Profiles are never edited, only duplicated, so a document's settings
//! are its profile's for as long as it exists.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chunk_quality::QualityRules;
use crate::Error;

/// The default profile, which the migrations create and which can be neither archived nor
/// deleted.
pub const DEFAULT_PROFILE_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);

/// A profile's settings, in the original's names and with its defaults: stored, and sent to
/// clients, as this JSON, in which a missing setting takes its default. Only the quality
/// settings change how this service processes a document (see the README's Compatibility
/// section); the others are kept and shown as the original's clients set them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileSettings {
    pub pdf_converter: String,
    pub pdf_ocr_mode: String,
    pub pdf_ocr_languages: String,
    pub conversion_table_rows: u32,
    pub conversion_table_cols: u32,
    pub max_file_size_mb: u32,
    /// Characters; the quality score's ideal chunk length.
    pub document_chunk_size: u32,
    pub document_chunk_overlap: u32,
    pub document_header_levels: u32,
    pub presentation_min_chunk: u32,
    pub tabular_rows_per_chunk: u32,
    /// A chunk shorter than this is `TOO_SHORT`.
    pub quality_min_chars: u32,
    /// A chunk longer than this is `TOO_LONG`.
    pub quality_max_chars: u32,
    /// What each quality flag takes off the score's flag part.
    pub quality_penalty_per_flag: f64,
    pub auto_fix_enabled: bool,
    pub auto_fix_max_passes: u32,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        let quality = QualityRules::DEFAULT;
        Self {
            pdf_converter: "pymupdf".into(),
            pdf_ocr_mode: "auto".into(),
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

    /// The original's bounds on each setting a client may choose.
    pub fn validate(&self) -> Result<(), Error> {
        let choices: [(&str, &str, &[&str]); 2] = [
            ("pdfConverter", &self.pdf_converter, &["pymupdf", "docling"]),
            (
                "pdfOcrMode",
                &self.pdf_ocr_mode,
                &["auto", "force", "never"],
            ),
        ];
        for (name, value, allowed) in choices {
            if !allowed.contains(&value) {
                return Err(invalid(name, &format!("one of {}", allowed.join(", "))));
            }
        }
        if self.pdf_ocr_languages.chars().count() > 100 {
            return Err(invalid("pdfOcrLanguages", "at most 100 characters"));
        }
        let ranges = [
            ("conversionTableRows", self.conversion_table_rows, 1, 1000),
            ("conversionTableCols", self.conversion_table_cols, 1, 100),
            ("documentChunkSize", self.document_chunk_size, 100, 10_000),
            ("documentChunkOverlap", self.document_chunk_overlap, 0, 1000),
            ("documentHeaderLevels", self.document_header_levels, 1, 6),
            (
                "presentationMinChunk",
                self.presentation_min_chunk,
                50,
                2000,
            ),
            ("tabularRowsPerChunk", self.tabular_rows_per_chunk, 1, 100),
            ("qualityMinChars", self.quality_min_chars, 10, 500),
            ("qualityMaxChars", self.quality_max_chars, 500, 10_000),
            ("autoFixMaxPasses", self.auto_fix_max_passes, 0, 10),
        ];
        for (name, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                return Err(invalid(name, &format!("from {low} to {high}")));
            }
        }
        if !(0.0..=1.0).contains(&self.quality_penalty_per_flag) {
            return Err(invalid("qualityPenaltyPerFlag", "from 0 to 1"));
        }
        Ok(())
    }
}

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
        let ocr = ProfileSettings {
            pdf_ocr_mode: "sometimes".into(),
            ..Default::default()
        };
        assert!(ocr.validate().is_err());
        let penalty = ProfileSettings {
            quality_penalty_per_flag: 1.5,
            ..Default::default()
        };
        assert!(penalty.validate().is_err());
        let unnamed = NewProfile {
            name: String::new(),
            description: None,
            settings: ProfileSettings::default(),
        };
        assert!(unnamed.validate().is_err());
    }

    #[test]
    fn stored_settings_keep_the_defaults_they_lack() {
        let settings: ProfileSettings =
            serde_json::from_str(r#"{"documentChunkSize": 800}"#).unwrap();
        assert_eq!(settings.document_chunk_size, 800);
        assert_eq!(settings.quality_min_chars, 500);
        let rules = settings.quality_rules();
        assert_eq!((rules.min_chars, rules.ideal_chars), (500, 800));
    }
}
