//! Search on PostgreSQL: pgvector's HNSW index for similarity, the chunks' tsvector (GIN) for
//! keywords (BM25 over the statistics the triggers keep). Only chunks of COMPLETED, active documents are ever read.

use pgvector::Vector;
use sqlx::{PgPool, Postgres, QueryBuilder, Row, postgres::PgRow};

use async_trait::async_trait;

use super::{PgStore, db_error, rows::hit_from_row};
use crate::adapters::sql::HIT_COLUMNS;
use crate::{
    Error,
    domain::{
        query::{Keywords, SearchFilter},
        ranking::ChunkHit,
    },
    ports::ChunkSearch,
};

/// A hit from the `HIT_COLUMNS` plus `distance` (cosine distance to the query).
fn hit_with_distance(row: &PgRow) -> Result<ChunkHit, sqlx::Error> {
    let distance: f64 = row.try_get("distance")?;
    hit_from_row(row, (1.0 - distance) as f32)
}

/// The rule every search obeys, then the request's own filters.
fn push_searchable(sql: &mut QueryBuilder<Postgres>, filter: &SearchFilter) {
    sql.push(" d.status = 'COMPLETED' AND d.is_active");
    if let Some(ids) = &filter.document_ids {
        sql.push(" AND c.document_id = ANY(")
            .push_bind(ids.clone())
            .push(")");
    }
    if let Some(formats) = &filter.formats {
        let names: Vec<&str> = formats.iter().map(|f| f.as_str()).collect();
        sql.push(" AND d.format = ANY(").push_bind(names).push(")");
    }
}

async fn fetch_hits(
    pool: &PgPool,
    mut sql: QueryBuilder<Postgres>,
) -> Result<Vec<ChunkHit>, Error> {
    sql.build()
        .fetch_all(pool)
        .await
        .and_then(|rows| rows.iter().map(hit_with_distance).collect())
        .map_err(db_error)
}

pub(super) async fn nearest(
    pool: &PgPool,
    vector: &[f32],
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<ChunkHit>, Error> {
    let vector = Vector::from(vector.to_vec());
    // The index walk yields rows in roughly nearest-first order (iterative scans, relaxed order,
    // so filters never starve the result); the outer sort makes the order exact.
    let mut sql = QueryBuilder::new("WITH nearest AS MATERIALIZED (SELECT ");
    sql.push(HIT_COLUMNS)
        .push(", c.embedding <=> ")
        .push_bind(vector.clone())
        .push(" AS distance FROM chunks c JOIN documents d ON d.id = c.document_id WHERE");
    push_searchable(&mut sql, filter);
    sql.push(" ORDER BY c.embedding <=> ")
        .push_bind(vector)
        .push(" LIMIT ")
        .push_bind(limit as i64)
        .push(") SELECT * FROM nearest ORDER BY distance, id");
    fetch_hits(pool, sql).await
}

/// The keywords in `websearch_to_tsquery` syntax: the alternatives, and the exclusions.
fn websearch(keywords: &Keywords) -> (String, String) {
    let quoted = |term: &String| {
        if Keywords::is_phrase(term) {
            format!("\"{term}\"")
        } else {
            term.clone()
        }
    };
    let any: Vec<String> = keywords.any.iter().map(quoted).collect();
    let exclude: Vec<String> = keywords
        .exclude
        .iter()
        .map(|t| format!("-{}", quoted(t)))
        .collect();
    (any.join(" or "), exclude.join(" "))
}

/// BM25's term-frequency saturation and length normalisation, at their customary values.
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;

/// Chunks matching the websearch query, ranked by BM25 over the query's lexemes: `ts_rank_cd`
/// has no inverse document frequency, so a question's common words outweighed its telling ones
/// (Cranfield nDCG@10: 0.36 with `ts_rank_cd`, 0.51 with BM25; see docs/BENCHMARKS.md).
pub(super) async fn by_keywords(
    pool: &PgPool,
    keywords: &Keywords,
    vector: &[f32],
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<ChunkHit>, Error> {
    if keywords.any.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = QueryBuilder::new(
        "WITH corpus AS MATERIALIZED (\
           SELECT chunks, tokens::float8 / greatest(chunks, 1) AS mean_tokens FROM chunk_totals), \
         terms AS MATERIALIZED (\
           SELECT t.lexeme, ln(1 + (corpus.chunks - coalesce(s.chunks, 0) + 0.5) \
                                   / (coalesce(s.chunks, 0) + 0.5)) AS idf \
           FROM unnest(tsvector_to_array(to_tsvector('english', ",
    );
    let (any, exclude) = websearch(keywords);
    sql.push_bind(any.clone()).push(
        "))) AS t(lexeme) CROSS JOIN corpus LEFT JOIN chunk_lexemes s ON s.lexeme = t.lexeme), \
         q AS MATERIALIZED (SELECT websearch_to_tsquery('english', ",
    );
    sql.push_bind(any).push(")");
    if !exclude.is_empty() {
        sql.push(" && websearch_to_tsquery('english', ")
            .push_bind(exclude)
            .push(")");
    }
    // Score every match, keep the best, and only then read their columns and vector distance.
    sql.push(format_args!(
        " AS query), \
         ranked AS MATERIALIZED (\
           SELECT c.id, (\
             SELECT sum(t.idf * f.tf * {k1_plus_1} \
                        / (f.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * c.token_count / corpus.mean_tokens))) \
             FROM unnest(c.search_vector) v JOIN terms t ON t.lexeme = v.lexeme, \
                  LATERAL (SELECT coalesce(array_length(v.positions, 1), 1) AS tf) f\
           ) AS score \
           FROM chunks c JOIN documents d ON d.id = c.document_id, q, corpus \
           WHERE c.search_vector @@ q.query AND",
        k1_plus_1 = BM25_K1 + 1.0
    ));
    push_searchable(&mut sql, filter);
    sql.push(" ORDER BY score DESC, c.id LIMIT ")
        .push_bind(limit as i64)
        .push(") SELECT ")
        .push(HIT_COLUMNS)
        .push(", c.embedding <=> ")
        .push_bind(Vector::from(vector.to_vec()))
        .push(
            " AS distance FROM ranked r JOIN chunks c ON c.id = r.id \
             JOIN documents d ON d.id = c.document_id ORDER BY r.score DESC, c.id",
        );
    fetch_hits(pool, sql).await
}

#[async_trait]
impl ChunkSearch for PgStore {
    async fn nearest_chunks(
        &self,
        vector: &[f32],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ChunkHit>, Error> {
        nearest(&self.pool, vector, filter, limit).await
    }

    async fn keyword_chunks(
        &self,
        keywords: &Keywords,
        vector: &[f32],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ChunkHit>, Error> {
        by_keywords(&self.pool, keywords, vector, filter, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_websearch_alternatives_and_exclusions() {
        let k = Keywords::parse(r#"lift -helicopter "propeller slipstream" -"rotor blade""#);
        let (any, exclude) = websearch(&k);
        assert_eq!(any, r#"lift or "propeller slipstream""#);
        assert_eq!(exclude, r#"-helicopter -"rotor blade""#);
    }
}
