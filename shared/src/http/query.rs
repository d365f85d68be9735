//! `POST /api/query`: semantic or hybrid search over the knowledge base.

use axum::{Json, extract::State, extract::rejection::JsonRejection};
use serde_json::{Value, json};

use super::AppState;
use crate::{
    Error,
    domain::search::{RawSearchRequest, SearchRequest},
    search::search,
};

pub async fn query(
    State(state): State<AppState>,
    body: Result<Json<RawSearchRequest>, JsonRejection>,
) -> Result<Json<Value>, Error> {
    let Json(raw) = body.map_err(|e| {
        Error::Validation(format!(
            "Expected a JSON body such as {{\"query\": \"…\", \"topK\": 5}}: {}",
            e.body_text()
        ))
    })?;
    let request = SearchRequest::parse(raw)?;
    let embedder = state
        .embedder
        .as_ref()
        .ok_or_else(|| Error::Embedding("no embedding model is loaded here".into()))?;
    let results = search(state.store.as_ref(), embedder, &request).await?;
    Ok(Json(json!({ "mode": request.mode, "results": results })))
}
