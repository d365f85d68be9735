//! Answering a search: embed the question, ask the store, rank. Shared by the query route and
//! `ragbase eval`, so the benchmark measures exactly what clients get.

use std::sync::Arc;

use crate::{
    Error,
    domain::{
        query::{Keywords, Mode, SearchRequest},
        ranking::{self, SearchResult},
    },
    ports::{ChunkSearch, Embedder},
};

pub async fn search(
    store: &dyn ChunkSearch,
    embedder: &Arc<dyn Embedder>,
    request: &SearchRequest,
) -> Result<Vec<SearchResult>, Error> {
    let vector = embed_query(embedder.clone(), request.query.clone()).await?;
    match request.mode {
        Mode::Semantic => {
            let nearest = store
                .nearest_chunks(&vector, &request.filter, request.top_k)
                .await?;
            Ok(ranking::semantic(nearest, request))
        }
        Mode::Hybrid => {
            let depth = request.hybrid_depth();
            let keywords = Keywords::parse(&request.query);
            let (nearest, by_keyword) = tokio::try_join!(
                store.nearest_chunks(&vector, &request.filter, depth),
                store.keyword_chunks(&keywords, &vector, &request.filter, depth),
            )?;
            Ok(ranking::fuse(nearest, by_keyword, request))
        }
    }
}

/// One short text is one batch on one core; off the async threads, as the model is CPU-bound.
async fn embed_query(embedder: Arc<dyn Embedder>, query: String) -> Result<Vec<f32>, Error> {
    tokio::task::spawn_blocking(move || embedder.embed(&[&query]))
        .await
        .map_err(|e| Error::Embedding(format!("the embedding task failed: {e}")))?
        .map_err(|e| Error::Embedding(e.to_string()))?
        .pop()
        .ok_or_else(|| Error::Embedding("the model returned no vector".into()))
}
