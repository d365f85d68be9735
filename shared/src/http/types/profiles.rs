//! The processing profile routes' bodies (`/api/profiles…`), in the original service's fields.
//! A profile's settings are the domain's `ProfileSettings`, flattened into the profile.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::profiles::{NewProfile, Profile, ProfileDeletion, ProfileSettings};

/// The embedding settings the original showed on every profile: this service's one model, which
/// no profile changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddingSettings {
    #[schema(example = "all-MiniLM-L6-v2")]
    pub embedding_model: String,
    #[schema(example = 384)]
    pub embedding_dimension: usize,
    #[schema(example = 256)]
    pub embedding_max_tokens: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    id: Uuid,
    #[schema(example = "Default")]
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    is_active: bool,
    is_default: bool,
    is_archived: bool,
    created_at: DateTime<Utc>,
    #[serde(flatten)]
    settings: ProfileSettings,
    #[serde(flatten)]
    embedding: EmbeddingSettings,
    /// Documents uploaded while it was active.
    document_count: i64,
}

impl ProfileBody {
    pub fn new(p: Profile, embedding: &EmbeddingSettings) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            is_active: p.is_active,
            is_default: p.is_default,
            is_archived: p.is_archived,
            created_at: p.created_at,
            settings: p.settings,
            embedding: embedding.clone(),
            document_count: p.document_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileEnvelope {
    pub profile: ProfileBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileListBody {
    pub profiles: Vec<ProfileBody>,
}

/// `GET /api/profiles` query string.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ProfileListParams {
    /// `true` to list archived profiles too (default `false`).
    #[param(value_type = Option<String>, pattern = "^(true|false)$")]
    pub include_archived: Option<String>,
}

/// `POST /api/profiles` body: a name, and any settings to change from the defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateProfileBody {
    /// Unique.
    #[schema(example = "Short chunks", min_length = 1, max_length = 100)]
    name: String,
    #[schema(max_length = 500)]
    description: Option<String>,
    #[serde(flatten)]
    settings: ProfileSettings,
}

impl From<CreateProfileBody> for NewProfile {
    fn from(b: CreateProfileBody) -> Self {
        Self::new(b.name, b.description, b.settings)
    }
}

/// `POST /api/profiles/{id}/duplicate` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DuplicateProfileBody {
    /// The copy's name (also read as `newName`); by default the source's, versioned ("Default v2").
    #[serde(alias = "newName")]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
}

/// `DELETE /api/profiles/{id}`: `confirmed` in the query string or in a JSON body.
#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteProfileParams {
    /// `true` to delete the profile's documents with it.
    #[param(value_type = Option<String>, pattern = "^(true|false)$")]
    pub confirmed: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeleteProfileBody {
    pub confirmed: Option<bool>,
}

/// The answer to a delete: done, or what confirming would delete.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ProfileDeletedBody {
    #[serde(rename_all = "camelCase")]
    Deleted {
        success: bool,
        deleted_documents: i64,
        deleted_chunks: i64,
    },
    #[serde(rename_all = "camelCase")]
    NeedsConfirmation {
        require_confirmation: bool,
        document_count: i64,
        chunk_count: i64,
        message: String,
    },
}

impl From<ProfileDeletion> for ProfileDeletedBody {
    fn from(d: ProfileDeletion) -> Self {
        if d.confirmed {
            return Self::Deleted {
                success: true,
                deleted_documents: d.documents,
                deleted_chunks: d.chunks,
            };
        }
        Self::NeedsConfirmation {
            require_confirmation: true,
            document_count: d.documents,
            chunk_count: d.chunks,
            message: format!(
                "This will permanently delete {} documents and {} chunks. Are you sure?",
                d.documents, d.chunks
            ),
        }
    }
}
