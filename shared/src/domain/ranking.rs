//! A search's answer: the chunks the stores found, scored by similarity (semantic) or fused by
//! reciprocal rank (hybrid), then cut to the request's `topK` and floor.

use std::collections::HashMap;

use uuid::Uuid;

use super::{documents::ChunkMetadata, query::SearchRequest};

/// Rank offset of reciprocal-rank fusion (k = 60): it damps the weight of the very first ranks so
/// one list cannot outvote the other on a single hit.
const RRF_K: f64 = 60.0;

/// A chunk a store found, with its cosine similarity to the query's vector.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkHit {
    pub chunk_id: Uuid,
    pub document_id: Uuid,
    pub filename: String,
    pub content: String,
    pub similarity: f32,
    pub metadata: ChunkMetadata,
}

/// One answer to a search: the chunk and its score in the request's mode (the cosine similarity,
/// floored at 0, for semantic; the fused rank score for hybrid).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub score: f64,
    /// Hybrid only: what each list gave before weighting.
    pub ranks: Option<ListRanks>,
    pub chunk: ChunkHit,
}

/// A hybrid result's reciprocal rank `1/(60+rank)` in each list, 0 where the list lacks it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ListRanks {
    pub vector: f64,
    pub keyword: f64,
}

/// Semantic results: the nearest chunks, scored by similarity.
pub fn semantic(nearest: Vec<ChunkHit>, request: &SearchRequest) -> Vec<SearchResult> {
    nearest
        .into_iter()
        .filter(|hit| {
            request
                .min_similarity
                .is_none_or(|min| hit.similarity >= min)
        })
        .take(request.top_k)
        .map(|chunk| SearchResult {
            // Clients show it as a share: an opposite vector scores 0, as with the original.
            score: f64::from(chunk.similarity).max(0.0),
            ranks: None,
            chunk,
        })
        .collect()
}

/// Weighted reciprocal-rank fusion: `alpha/(60+r_vec) + (1-alpha)/(60+r_kw)` with 1-based ranks;
/// a chunk missing from one list gets nothing from it.
pub fn fuse(
    nearest: Vec<ChunkHit>,
    by_keyword: Vec<ChunkHit>,
    request: &SearchRequest,
) -> Vec<SearchResult> {
    let mut fused: HashMap<Uuid, SearchResult> = HashMap::new();
    let weighted = [
        (nearest, request.alpha, true),
        (by_keyword, 1.0 - request.alpha, false),
    ];
    for (list, weight, is_vector) in weighted {
        for (rank, chunk) in list.into_iter().enumerate() {
            let reciprocal = 1.0 / (RRF_K + rank as f64 + 1.0);
            let result = fused.entry(chunk.chunk_id).or_insert(SearchResult {
                score: 0.0,
                ranks: Some(ListRanks::default()),
                chunk,
            });
            result.score += weight * reciprocal;
            if let Some(ranks) = result.ranks.as_mut() {
                *(if is_vector {
                    &mut ranks.vector
                } else {
                    &mut ranks.keyword
                }) = reciprocal;
            }
        }
    }
    let mut results: Vec<SearchResult> = fused
        .into_values()
        .filter(|r| {
            request
                .min_similarity
                .is_none_or(|min| r.chunk.similarity >= min)
        })
        .collect();
    // Ties (a chunk at the same rank in both lists as another) go to the closer vector.
    results.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.chunk.similarity.total_cmp(&a.chunk.similarity))
            .then(a.chunk.chunk_id.cmp(&b.chunk.chunk_id))
    });
    results.truncate(request.top_k);
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::types::QueryBody;

    fn request(json: serde_json::Value) -> SearchRequest {
        SearchRequest::parse(serde_json::from_value::<QueryBody>(json).unwrap().into()).unwrap()
    }

    fn hit(n: u128, similarity: f32) -> ChunkHit {
        ChunkHit {
            chunk_id: Uuid::from_u128(n),
            document_id: Uuid::from_u128(1000 + n),
            filename: format!("{n}.txt"),
            content: String::new(),
            similarity,
            metadata: ChunkMetadata {
                page: None,
                heading: None,
                breadcrumbs: vec![],
                char_start: 0,
                char_end: 0,
                chunk_index: 0,
                token_count: 0,
            },
        }
    }

    fn ids(results: &[SearchResult]) -> Vec<u128> {
        results.iter().map(|r| r.chunk.chunk_id.as_u128()).collect()
    }

    #[test]
    fn fusion_weights_ranks_by_alpha() {
        let mut r = request(serde_json::json!({"query": "q", "mode": "hybrid", "topK": 3}));
        let nearest = || vec![hit(1, 0.9), hit(2, 0.8), hit(3, 0.7)];
        let keyword = || vec![hit(3, 0.7), hit(4, 0.1)];
        let fused = fuse(nearest(), keyword(), &r);
        // 3 is in both lists: 0.7/63 + 0.3/61 beats 1's 0.7/61.
        assert_eq!(ids(&fused), vec![3, 1, 2]);
        assert!((fused[0].score - (0.7 / 63.0 + 0.3 / 61.0)).abs() < 1e-12);
        let ranks = fused[0].ranks.unwrap();
        assert_eq!((ranks.vector, ranks.keyword), (1.0 / 63.0, 1.0 / 61.0));
        assert_eq!(fused[1].ranks.unwrap().keyword, 0.0);
        r.alpha = 0.0;
        assert_eq!(ids(&fuse(nearest(), keyword(), &r))[..2], [3, 4]);
        r.min_similarity = Some(0.75);
        assert_eq!(ids(&fuse(nearest(), keyword(), &r)), vec![1, 2]);
    }

    #[test]
    fn semantic_scores_are_similarities_above_the_floor() {
        let mut r = request(serde_json::json!({"query": "q", "topK": 2}));
        let found = semantic(vec![hit(1, 0.9), hit(2, 0.5), hit(3, 0.4)], &r);
        assert_eq!(ids(&found), vec![1, 2]);
        assert!((found[1].score - 0.5).abs() < 1e-6);
        assert_eq!(found[1].ranks, None);
        let opposite = semantic(vec![hit(4, -0.2)], &r);
        assert_eq!(
            (opposite[0].score, opposite[0].chunk.similarity),
            (0.0, -0.2)
        );
        r.min_similarity = Some(0.6);
        assert_eq!(ids(&semantic(vec![hit(1, 0.9), hit(2, 0.5)], &r)), vec![1]);
    }
}
