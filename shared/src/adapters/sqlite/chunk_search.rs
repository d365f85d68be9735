//! Search on SQLite: exact similarity over the in-memory vectors, BM25 from FTS5 for keywords.
//! Only chunks of COMPLETED, active documents are ever read.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Row, Sqlite, sqlite::SqliteRow};
use uuid::Uuid;

use async_trait::async_trait;

use super::{SqliteStore, db_error, rows::hit_from_row, vectors::Query};
use crate::adapters::sql::HIT_COLUMNS;
use crate::{
    Error,
    domain::{
        query::{Keywords, SearchFilter},
        ranking::ChunkHit,
    },
    ports::ChunkSearch,
};

/// PostgreSQL's English stop words (its `english.stop`): the keyword side ignores them there,
/// and FTS5 has no list of its own. Without it, "what is the…" would match nearly every chunk.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "did",
    "do",
    "does",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// The rule every search obeys, then the request's own filters (on `documents d`).
fn push_searchable(sql: &mut QueryBuilder<Sqlite>, filter: &SearchFilter) {
    sql.push(" d.status = 'COMPLETED' AND d.is_active");
    if let Some(ids) = &filter.document_ids {
        sql.push(" AND d.id IN (");
        let mut list = sql.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        sql.push(")");
    }
    if let Some(formats) = &filter.formats {
        sql.push(" AND d.format IN (");
        let mut list = sql.separated(", ");
        for format in formats {
            list.push_bind(format.as_str());
        }
        sql.push(")");
    }
}

pub(super) async fn nearest(
    store: &SqliteStore,
    vector: &[f32],
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<ChunkHit>, Error> {
    let mut searchable = QueryBuilder::new("SELECT d.id FROM documents d WHERE");
    push_searchable(&mut searchable, filter);
    let documents: Vec<Uuid> = searchable
        .build_query_scalar()
        .fetch_all(&store.reader)
        .await
        .map_err(db_error)?;
    let (vectors, query) = (store.vectors.clone(), Query::new(vector));
    // A scan of every vector is CPU work: off the async threads.
    let neighbours = tokio::task::spawn_blocking(move || {
        let index = vectors.read().unwrap_or_else(|p| p.into_inner());
        index.nearest(&query, &documents, limit)
    })
    .await
    .map_err(db_error)?;
    let mut rows = searchable_rows(store, neighbours.iter().map(|n| n.chunk_id)).await?;
    // In the index's order; a chunk deleted since the scan is skipped.
    neighbours
        .iter()
        .filter_map(|n| rows.remove(&n.chunk_id).map(|row| (row, n.similarity)))
        .map(|(row, similarity)| hit_from_row(&row, similarity).map_err(db_error))
        .collect()
}

/// The `HIT_COLUMNS` of the chunks with these ids that searches may read, by id.
async fn searchable_rows(
    store: &SqliteStore,
    ids: impl ExactSizeIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, SqliteRow>, Error> {
    if ids.len() == 0 {
        return Ok(HashMap::new());
    }
    let mut sql = QueryBuilder::new("SELECT ");
    sql.push(HIT_COLUMNS)
        .push(" FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN (");
    let mut list = sql.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    sql.push(") AND");
    push_searchable(&mut sql, &SearchFilter::default());
    let rows = sql
        .build()
        .fetch_all(&store.reader)
        .await
        .map_err(db_error)?;
    rows.into_iter()
        .map(|row| Ok((row.try_get("id")?, row)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_error)
}

/// The searchable chunks among `ids`, in their order, with their similarity to `vector`.
async fn by_id(store: &SqliteStore, ids: &[Uuid], vector: &[f32]) -> Result<Vec<ChunkHit>, Error> {
    let mut rows = searchable_rows(store, ids.iter().copied()).await?;
    let query = Query::new(vector);
    let index = store.vectors.read().unwrap_or_else(|p| p.into_inner());
    ids.iter()
        .filter_map(|id| rows.remove(id))
        .map(|row| {
            let (document, chunk, position): (Uuid, Uuid, i64) = (
                row.try_get("document_id")?,
                row.try_get("id")?,
                row.try_get("chunk_index")?,
            );
            let similarity = index
                .similarity(&query, &document, (chunk, position as usize))
                .unwrap_or(0.0);
            hit_from_row(&row, similarity)
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_error)
}

/// The ids of the chunks matching the keywords, best BM25 first (FTS5's `bm25()`, k1 = 1.2,
/// b = 0.75, as on PostgreSQL).
pub(super) async fn by_keywords(
    store: &SqliteStore,
    keywords: &Keywords,
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<Uuid>, Error> {
    let Some(expression) = fts5_query(keywords) else {
        return Ok(Vec::new());
    };
    // The full-text query runs once, first; joined directly, SQLite may instead probe the index
    // row by row from the documents side, re-running the query each time (seconds per search).
    // bm25() is lower for better matches.
    let mut sql = QueryBuilder::new(
        "WITH matches AS MATERIALIZED (\
           SELECT rowid, bm25(chunk_text) AS score FROM chunk_text WHERE chunk_text MATCH ",
    );
    sql.push_bind(expression).push(
        ") SELECT c.id FROM matches m JOIN chunks c ON c.rowid = m.rowid \
         JOIN documents d ON d.id = c.document_id WHERE",
    );
    push_searchable(&mut sql, filter);
    sql.push(" ORDER BY m.score, c.id LIMIT ")
        .push_bind(limit as i64);
    sql.build_query_scalar()
        .fetch_all(&store.reader)
        .await
        .map_err(db_error)
}

/// The keywords as an FTS5 expression: each term a quoted string (FTS5 applies the table's
/// tokenizer inside quotes, so a phrase matches its words in a row), stop words dropped, the
/// alternatives joined by OR and the exclusions by NOT. `None` when nothing is left to match.
fn fts5_query(keywords: &Keywords) -> Option<String> {
    let terms = |list: &[String]| -> Vec<String> {
        list.iter()
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .filter(|t| Keywords::is_phrase(t) || !STOP_WORDS.contains(&t.to_lowercase().as_str()))
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect()
    };
    let any = terms(&keywords.any);
    if any.is_empty() {
        return None;
    }
    let mut expression = format!("({})", any.join(" OR "));
    let exclude = terms(&keywords.exclude);
    if !exclude.is_empty() {
        expression.push_str(&format!(" NOT ({})", exclude.join(" OR ")));
    }
    Some(expression)
}

#[async_trait]
impl ChunkSearch for SqliteStore {
    async fn nearest_chunks(
        &self,
        vector: &[f32],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ChunkHit>, Error> {
        nearest(self, vector, filter, limit).await
    }

    async fn keyword_ranking(
        &self,
        keywords: &Keywords,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<Uuid>, Error> {
        by_keywords(self, keywords, filter, limit).await
    }

    async fn chunks_by_id(&self, ids: &[Uuid], vector: &[f32]) -> Result<Vec<ChunkHit>, Error> {
        by_id(self, ids, vector).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_an_fts5_expression_without_stop_words() {
        let k = Keywords::parse(
            r#"What is the lift -helicopter "the propeller" -"rotor blade" x-ray ?"#,
        );
        assert_eq!(
            fts5_query(&k).as_deref(),
            Some(r#"("lift" OR "the propeller" OR "x-ray") NOT ("helicopter" OR "rotor blade")"#)
        );
        assert_eq!(fts5_query(&Keywords::parse("what is it -wing")), None);
        assert_eq!(fts5_query(&Keywords::parse("? !")), None);
    }
}
