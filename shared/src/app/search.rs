//! Answering a search: embed the question, ask the store, rank. Shared by the query route and
//! `ragbase eval`, so the benchmark measures exactly what clients get.

use std::{collections::HashMap, sync::Arc};

use uuid::Uuid;

use crate::{
    Error,
    domain::{
        query::{Keywords, Mode, SearchRequest},
        ranking::{self, ChunkHit, SearchResult},
    },
    ports::{ChunkSearch, Embedder},
};

pub async fn search(
    store: &dyn ChunkSearch,
    embedder: &Arc<dyn Embedder>,
    request: &SearchRequest,
) -> Result<Vec<SearchResult>, Error> {
    let nearest = |limit| async move {
        let vector = embed_query(embedder.clone(), request.query.clone()).await?;
        let hits = store
            .nearest_chunks(&vector, &request.filter, limit)
            .await?;
        Ok::<_, Error>((vector, hits))
    };
    match request.mode {
        Mode::Semantic => {
            let (_, hits) = nearest(request.top_k).await?;
            Ok(ranking::semantic(hits, request))
        }
        Mode::Hybrid => {
            let depth = request.hybrid_depth();
            let keywords = Keywords::parse(&request.query);
            // The keyword ranking needs no vector: it runs while the question is embedded.
            let ((vector, nearest), ranked) = tokio::try_join!(
                nearest(depth),
                store.keyword_ranking(&keywords, &request.filter, depth),
            )?;
            let by_keyword = keyword_hits(store, &ranked, &nearest, &vector).await?;
            Ok(ranking::fuse(nearest, by_keyword, request))
        }
    }
}

/// The keyword list's chunks, in its order: those the vector list holds already, the rest read
/// (only the few that fusion may return need their text and similarity).
async fn keyword_hits(
    store: &dyn ChunkSearch,
    ranked: &[Uuid],
    nearest: &[ChunkHit],
    vector: &[f32],
) -> Result<Vec<ChunkHit>, Error> {
    let held: HashMap<Uuid, &ChunkHit> = nearest.iter().map(|h| (h.chunk_id, h)).collect();
    let missing: Vec<Uuid> = ranked
        .iter()
        .filter(|id| !held.contains_key(id))
        .copied()
        .collect();
    let mut read: HashMap<Uuid, ChunkHit> = store
        .chunks_by_id(&missing, vector)
        .await?
        .into_iter()
        .map(|hit| (hit.chunk_id, hit))
        .collect();
    Ok(ranked
        .iter()
        .filter_map(|id| {
            held.get(id)
                .map(|&hit| hit.clone())
                .or_else(|| read.remove(id))
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::domain::query::SearchFilter;

    /// Reads chunks by id as a store would, recording what it was asked.
    #[derive(Default)]
    struct ReadingStore(Mutex<Vec<Uuid>>);

    fn hit(id: Uuid) -> ChunkHit {
        ChunkHit {
            chunk_id: id,
            document_id: Uuid::nil(),
            filename: "f.txt".into(),
            content: id.to_string(),
            similarity: 0.5,
            metadata: Default::default(),
        }
    }

    #[async_trait::async_trait]
    impl ChunkSearch for ReadingStore {
        async fn nearest_chunks(
            &self,
            _: &[f32],
            _: &SearchFilter,
            _: usize,
        ) -> Result<Vec<ChunkHit>, Error> {
            unreachable!()
        }
        async fn keyword_ranking(
            &self,
            _: &Keywords,
            _: &SearchFilter,
            _: usize,
        ) -> Result<Vec<Uuid>, Error> {
            unreachable!()
        }
        async fn chunks_by_id(&self, ids: &[Uuid], _: &[f32]) -> Result<Vec<ChunkHit>, Error> {
            self.0.lock().unwrap().extend_from_slice(ids);
            // The last one was deleted since it was ranked.
            Ok(ids[..ids.len() - 1].iter().copied().map(hit).collect())
        }
    }

    #[tokio::test]
    async fn keyword_hits_read_only_what_the_vector_list_lacks_in_the_keyword_order() {
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        let nearest = vec![hit(ids[3]), hit(ids[1])];
        let store = ReadingStore::default();
        let hits = keyword_hits(&store, &ids, &nearest, &[1.0]).await.unwrap();
        assert_eq!(*store.0.lock().unwrap(), vec![ids[0], ids[2], ids[4]]);
        let order: Vec<Uuid> = hits.iter().map(|h| h.chunk_id).collect();
        assert_eq!(order, vec![ids[0], ids[1], ids[2], ids[3]]);
    }
}
