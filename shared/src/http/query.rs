//! `POST /api/query`: semantic or hybrid search over the knowledge base.

use axum::{Json, extract::State};

use super::{
    AppState,
    errors::ApiError,
    extract::ApiJson,
    types::{ErrorBody, QueryAnswer, QueryBody},
};
use crate::{
    Error,
    app::search::search,
    domain::query::{Mode, SearchRequest},
};

/// Search: the passages that best answer a question, with citations.
#[utoipa::path(post, path = "/api/query", operation_id = "searchDocuments", tag = "search",
    request_body = QueryBody,
    responses(
        (status = 200, description = "The best passages, best first", body = QueryAnswer),
        (status = 400, description = "`VALIDATION_ERROR`", body = ErrorBody),
        (status = 503, description = "`EMBEDDING_SERVICE_ERROR`: the model failed; `SERVICE_UNAVAILABLE`: a backend is down", body = ErrorBody),
    ))]
pub async fn query(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Json<QueryAnswer>, ApiError> {
    let request = SearchRequest::parse(body.into())?;
    let embedder = state
        .embedder
        .as_ref()
        .ok_or_else(|| Error::Embedding("no embedding model is loaded here".into()))?;
    let results = search(state.chunks.as_ref(), embedder, &request).await?;
    Ok(Json(QueryAnswer {
        mode: request.mode.as_str(),
        alpha: (request.mode == Mode::Hybrid).then_some(request.alpha),
        results: results.into_iter().map(Into::into).collect(),
    }))
}
