//! Exact nearest-neighbour search over every chunk vector, held in memory.
//!
//! Why not an index inside SQLite: the `sqlite-vec` extension scans every vector too (its ANN
//! index is unreleased) and would add a native extension to load. A flat scan of unit vectors in
//! memory is exact, as fast as pgvector's HNSW up to about 100k chunks (docs/BENCHMARKS.md), and
//! costs 1.5 KiB of memory per chunk; larger collections belong on PostgreSQL.

use std::collections::HashMap;

use uuid::Uuid;

/// One document's chunk vectors, unit length, in chunk-index order.
struct DocumentVectors {
    chunk_ids: Vec<Uuid>,
    /// `chunk_ids.len()` vectors of equal length, end to end.
    vectors: Vec<f32>,
}

impl DocumentVectors {
    fn dimensions(&self) -> usize {
        self.vectors.len() / self.chunk_ids.len().max(1)
    }

    fn vector(&self, position: usize) -> &[f32] {
        let d = self.dimensions();
        &self.vectors[position * d..(position + 1) * d]
    }
}

#[derive(Default)]
pub struct VectorIndex {
    documents: HashMap<Uuid, DocumentVectors>,
}

/// A query vector, made unit length once so that each comparison is one dot product.
pub struct Query(Vec<f32>);

impl Query {
    pub fn new(vector: &[f32]) -> Self {
        Self(unit(vector.to_vec()))
    }
}

/// A chunk and its cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub chunk_id: Uuid,
    pub similarity: f32,
}

impl VectorIndex {
    /// Sets a document's chunks (ids with their vectors, in chunk-index order), replacing any.
    pub fn replace(&mut self, document: Uuid, chunks: impl IntoIterator<Item = (Uuid, Vec<f32>)>) {
        let mut entry = DocumentVectors {
            chunk_ids: Vec::new(),
            vectors: Vec::new(),
        };
        for (id, vector) in chunks {
            entry.chunk_ids.push(id);
            entry.vectors.extend(unit(vector));
        }
        self.documents.insert(document, entry);
    }

    pub fn remove(&mut self, document: &Uuid) {
        self.documents.remove(document);
    }

    /// Chunks held, over every document.
    pub fn len(&self) -> usize {
        self.documents.values().map(|d| d.chunk_ids.len()).sum()
    }

    /// The cosine similarity of one chunk (found by its document and index) to `query`.
    pub fn similarity(&self, query: &Query, document: &Uuid, chunk: (Uuid, usize)) -> Option<f32> {
        let vectors = self.documents.get(document)?;
        let (id, index) = chunk;
        // Chunk indexes run 0..n, so the index is the position; searching covers anything else.
        let position = if vectors.chunk_ids.get(index) == Some(&id) {
            index
        } else {
            vectors.chunk_ids.iter().position(|c| *c == id)?
        };
        Some(dot(&query.0, vectors.vector(position)))
    }

    /// The `limit` chunks of `documents` most similar to `query`, most similar first (ties by id).
    pub fn nearest<'a>(
        &self,
        query: &Query,
        documents: impl IntoIterator<Item = &'a Uuid>,
        limit: usize,
    ) -> Vec<Neighbour> {
        let query = &query.0;
        let mut scored: Vec<Neighbour> = Vec::new();
        for vectors in documents.into_iter().filter_map(|d| self.documents.get(d)) {
            let d = vectors.dimensions();
            if d != query.len() {
                continue; // written by another model: not comparable
            }
            scored.extend(
                vectors
                    .chunk_ids
                    .iter()
                    .zip(vectors.vectors.chunks_exact(d))
                    .map(|(id, v)| Neighbour {
                        chunk_id: *id,
                        similarity: dot(query, v),
                    }),
            );
        }
        let order = |a: &Neighbour, b: &Neighbour| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(a.chunk_id.cmp(&b.chunk_id))
        };
        if scored.len() > limit && limit > 0 {
            scored.select_nth_unstable_by(limit - 1, order);
        }
        scored.truncate(limit);
        scored.sort_unstable_by(order);
        scored
    }
}

fn unit(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = dot(&vector, &vector).sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

/// Eight independent sums let the compiler use SIMD lanes (a single running sum cannot be
/// reordered under IEEE rules).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut lanes = [0f32; 8];
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    /// A 10-dimensional vector pointing mostly along `axis` (10 is not a multiple of 8: the tail
    /// is summed too).
    fn along(axis: usize, lean: f32) -> Vec<f32> {
        let mut v = vec![0.0; 10];
        v[axis] = 1.0;
        v[9] = lean;
        v
    }

    #[test]
    fn the_nearest_chunks_of_the_allowed_documents_come_first() {
        let mut index = VectorIndex::default();
        index.replace(id(1), [(id(11), along(0, 0.1)), (id(12), along(1, 0.0))]);
        index.replace(id(2), [(id(21), along(0, 0.5)), (id(22), along(9, 0.0))]);
        let query = Query::new(&along(0, 0.0));
        let found = index.nearest(&query, &[id(1), id(2)], 3);
        let ids: Vec<Uuid> = found.iter().map(|n| n.chunk_id).collect();
        assert_eq!(ids, [id(11), id(21), id(12)]);
        // Cosine, whatever the stored vector's length: 1/sqrt(1.01) for the first.
        assert!((found[0].similarity - 1.0 / 1.01f32.sqrt()).abs() < 1e-6);
        assert_eq!(found[2].similarity, 0.0);
        let only_second = index.nearest(&query, &[id(2)], 10);
        assert_eq!(only_second.len(), 2);
        assert_eq!(only_second[0].chunk_id, id(21));
        assert_eq!(index.len(), 4);
    }

    #[test]
    fn replacing_or_removing_a_document_changes_what_is_found() {
        let mut index = VectorIndex::default();
        index.replace(id(1), [(id(11), along(0, 0.0))]);
        index.replace(id(1), [(id(13), along(2, 0.0))]);
        let query = Query::new(&along(0, 0.0));
        assert_eq!(index.nearest(&query, &[id(1)], 5)[0].chunk_id, id(13));
        assert_eq!(index.len(), 1);
        index.remove(&id(1));
        assert!(index.nearest(&query, &[id(1)], 5).is_empty());
    }

    #[test]
    fn similarity_is_looked_up_by_index_or_id() {
        let mut index = VectorIndex::default();
        index.replace(id(1), [(id(11), along(0, 0.0)), (id(12), along(1, 0.0))]);
        // Not unit length: the query is made so once, and the similarity is still the cosine.
        let q = Query::new(&along(1, 0.5));
        let expected = 1.0 / 1.25f32.sqrt();
        for position in [1, 7] {
            let found = index.similarity(&q, &id(1), (id(12), position)).unwrap();
            assert!((found - expected).abs() < 1e-6, "{found}");
        }
        assert_eq!(index.similarity(&q, &id(1), (id(99), 0)), None);
        assert_eq!(index.similarity(&q, &id(2), (id(11), 0)), None);
    }

    #[test]
    fn dot_matches_a_plain_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 3.0 - i as f32).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
    }
}
