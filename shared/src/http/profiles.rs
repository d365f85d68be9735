//! The processing profile routes: list, read the active one, create, duplicate, activate,
//! archive, unarchive and delete, as the original service's clients call them.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};

use super::{
    AppState,
    errors::ApiError,
    extract::{ApiJson, ApiQuery, OptionalJson},
    types::{
        CreateProfileBody, DeleteProfileBody, DeleteProfileParams, DuplicateProfileBody,
        EmbeddingSettings, ErrorBody, ProfileBody, ProfileDeletedBody, ProfileEnvelope,
        ProfileListBody, ProfileListParams,
    },
};
use crate::{
    Error,
    adapters::onnx_embedder::{DIMENSIONS, MAX_TOKENS},
    app::profiles,
    domain::profiles::Profile,
};

/// Any text that is not a UUID names no profile, as in the original service.
fn profile_id(raw: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(raw).map_err(|_| Error::NotFound("Profile not found".into()))
}

fn flag(raw: Option<&str>, name: &str) -> Result<bool, Error> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Error::Validation(format!("{name} must be true or false"))),
    }
}

fn embedding(state: &AppState) -> EmbeddingSettings {
    let dir = &state.config.model.embedding_model_dir;
    EmbeddingSettings {
        embedding_model: dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        embedding_dimension: DIMENSIONS,
        embedding_max_tokens: MAX_TOKENS,
    }
}

fn envelope(state: &AppState, profile: Profile) -> Json<ProfileEnvelope> {
    Json(ProfileEnvelope {
        profile: ProfileBody::new(profile, &embedding(state)),
    })
}

/// List profiles, default and active first.
#[utoipa::path(get, path = "/api/profiles", operation_id = "listProfiles", tag = "profiles",
    params(ProfileListParams),
    responses(
        (status = 200, description = "The profiles, each with its settings and document count", body = ProfileListBody),
        (status = 400, description = "`VALIDATION_ERROR`", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ProfileListParams>,
) -> Result<Json<ProfileListBody>, ApiError> {
    let archived = flag(params.include_archived.as_deref(), "includeArchived")?;
    let embedding = embedding(&state);
    let profiles = state.profiles.list_profiles(archived).await?;
    let profiles = profiles
        .into_iter()
        .map(|p| ProfileBody::new(p, &embedding))
        .collect();
    Ok(Json(ProfileListBody { profiles }))
}

/// The profile new uploads are processed with.
#[utoipa::path(get, path = "/api/profiles/active", operation_id = "getActiveProfile", tag = "profiles",
    responses(
        (status = 200, description = "The active profile", body = ProfileEnvelope),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn active(State(state): State<AppState>) -> Result<Json<ProfileEnvelope>, ApiError> {
    let profile = state.profiles.active_profile().await?;
    let profile = profile.ok_or_else(|| Error::NotFound("No active profile found".into()))?;
    Ok(envelope(&state, profile))
}

/// Create an inactive profile; settings not given take their defaults.
#[utoipa::path(post, path = "/api/profiles", operation_id = "createProfile", tag = "profiles",
    request_body = CreateProfileBody,
    responses(
        (status = 201, description = "Created", body = ProfileEnvelope),
        (status = 400, description = "`VALIDATION_ERROR`: a setting out of range", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: the name is taken", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateProfileBody>,
) -> Result<(StatusCode, Json<ProfileEnvelope>), ApiError> {
    let profile = profiles::create(state.profiles.as_ref(), body.into()).await?;
    Ok((StatusCode::CREATED, envelope(&state, profile)))
}

/// Copy a profile's settings into a new, inactive profile.
#[utoipa::path(post, path = "/api/profiles/{id}/duplicate", operation_id = "duplicateProfile", tag = "profiles",
    params(("id" = Uuid, Path, description = "The profile to copy")),
    request_body(content = Option<DuplicateProfileBody>),
    responses(
        (status = 201, description = "The copy", body = ProfileEnvelope),
        (status = 400, description = "`VALIDATION_ERROR`", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: no free name", body = ErrorBody),
    ))]
pub async fn duplicate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<DuplicateProfileBody>,
) -> Result<(StatusCode, Json<ProfileEnvelope>), ApiError> {
    let id = profile_id(&id)?;
    let copy = profiles::duplicate(state.profiles.as_ref(), id, body.name).await?;
    Ok((StatusCode::CREATED, envelope(&state, copy)))
}

/// The three changes of a profile's state, which answer alike.
macro_rules! state_change {
    ($name:ident, $path:literal, $operation:literal, $use_case:path, $doc:literal, $refused:literal) => {
        #[doc = $doc]
        #[utoipa::path(put, path = $path, operation_id = $operation, tag = "profiles",
            params(("id" = Uuid, Path, description = "The profile")),
            responses(
                (status = 200, description = "The profile as it is now", body = ProfileEnvelope),
                (status = 400, description = $refused, body = ErrorBody),
                (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
                (status = 409, description = "`CONFLICT`: changed meanwhile", body = ErrorBody),
            ))]
        pub async fn $name(
            State(state): State<AppState>,
            Path(id): Path<String>,
        ) -> Result<Json<ProfileEnvelope>, ApiError> {
            let profile = $use_case(state.profiles.as_ref(), profile_id(&id)?).await?;
            Ok(envelope(&state, profile))
        }
    };
}

state_change!(
    activate,
    "/api/profiles/{id}/activate",
    "activateProfile",
    profiles::activate,
    "Make it the profile new uploads are processed with.",
    "`BAD_REQUEST`: the profile is archived"
);
state_change!(
    archive,
    "/api/profiles/{id}/archive",
    "archiveProfile",
    profiles::archive,
    "Hide it from the list (neither the default nor the active profile).",
    "`BAD_REQUEST`: the default or the active profile"
);
state_change!(
    unarchive,
    "/api/profiles/{id}/unarchive",
    "unarchiveProfile",
    profiles::unarchive,
    "List it again.",
    "`BAD_REQUEST`: the profile is not archived"
);

/// Delete an archived profile, and once confirmed the documents uploaded with it.
#[utoipa::path(delete, path = "/api/profiles/{id}", operation_id = "deleteProfile", tag = "profiles",
    params(("id" = Uuid, Path, description = "The profile"), DeleteProfileParams),
    request_body(content = Option<DeleteProfileBody>),
    responses(
        (status = 200, description = "Deleted, or what confirming would delete", body = ProfileDeletedBody),
        (status = 400, description = "`BAD_REQUEST`: the default, the active or an unarchived profile", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: one of its documents is processing", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DeleteProfileParams>,
    OptionalJson(body): OptionalJson<DeleteProfileBody>,
) -> Result<Json<ProfileDeletedBody>, ApiError> {
    let id = profile_id(&id)?;
    let confirmed = flag(params.confirmed.as_deref(), "confirmed")? || body.confirmed == Some(true);
    let deletion = profiles::delete(
        state.profiles.as_ref(),
        state.documents.as_ref(),
        id,
        confirmed,
    )
    .await?;
    Ok(Json(deletion.into()))
}
