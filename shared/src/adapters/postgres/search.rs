//! Search on PostgreSQL: pgvector's HNSW index for similarity, the chunks' tsvector (GIN) for
//! keywords (BM25 over the statistics the triggers keep). Only chunks of COMPLETED, active documents are ever read.

use pgvector::Vector;
use sqlx::{PgPool, Postgres, QueryBuilder, Row, postgres::PgRow};

use super::{db_error, store::metadata_from_row};
use crate::{
    Error,
    domain::{
        bm25::{B, K1, Plan, Term},
        search::{ChunkHit, Keywords, SearchFilter},
    },
};

/// Columns `hit_from_row` reads, from `chunks c JOIN documents d`, plus `distance`.
const HIT_COLUMNS: &str = "c.id, c.document_id, d.filename, c.content, c.page, c.heading, \
     c.breadcrumbs, c.char_start, c.char_end, c.chunk_index, c.token_count";

fn hit_from_row(row: &PgRow) -> Result<ChunkHit, sqlx::Error> {
    let distance: f64 = row.try_get("distance")?;
    Ok(ChunkHit {
        chunk_id: row.try_get("id")?,
        document_id: row.try_get("document_id")?,
        filename: row.try_get("filename")?,
        content: row.try_get("content")?,
        similarity: (1.0 - distance) as f32,
        metadata: metadata_from_row(row)?,
    })
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
        .and_then(|rows| rows.iter().map(hit_from_row).collect())
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

/// Chunks matching the websearch query, ranked by BM25 over the query's lexemes: `ts_rank_cd`
/// has no inverse document frequency, so a question's common words outweighed its telling ones
/// (Cranfield nDCG@10: 0.36 with `ts_rank_cd`, 0.51 with BM25; see docs/BENCHMARKS.md). The
/// `bm25::Plan` scores the chunks holding the rarest terms first and widens only when an outsider
/// could still enter the list, so the answer is exact and most queries touch few chunks.
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
    let (mut plan, mean_tokens) = plan_for(pool, &keywords.any).await?;
    loop {
        if plan.candidate_terms().is_empty() {
            return Ok(Vec::new());
        }
        let ranked =
            rank_candidates(pool, keywords, &plan, mean_tokens, vector, filter, limit).await?;
        let scores: Vec<f64> = ranked.iter().map(|(_, score)| *score).collect();
        if plan.is_settled(&scores, limit) || !plan.widen() {
            return Ok(ranked.into_iter().map(|(hit, _)| hit).collect());
        }
    }
}

/// The query's lexemes with their statistics, and the corpus's mean chunk length in tokens.
async fn plan_for(pool: &PgPool, words: &str) -> Result<(Plan, f64), Error> {
    let rows = sqlx::query(
        "SELECT t.lexeme, coalesce(s.chunks, 0) AS chunks, totals.chunks AS corpus, \
                totals.tokens::float8 / greatest(totals.chunks, 1) AS mean_tokens \
         FROM unnest(tsvector_to_array(to_tsvector('english', $1))) AS t(lexeme) \
         CROSS JOIN chunk_totals totals LEFT JOIN chunk_lexemes s ON s.lexeme = t.lexeme",
    )
    .bind(words)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let mut mean_tokens = 1.0;
    let mut terms = Vec::with_capacity(rows.len());
    for row in &rows {
        mean_tokens = row.try_get("mean_tokens").map_err(db_error)?;
        terms.push(Term::new(
            row.try_get("lexeme").map_err(db_error)?,
            row.try_get("chunks").map_err(db_error)?,
            row.try_get("corpus").map_err(db_error)?,
        ));
    }
    Ok((Plan::new(terms), mean_tokens))
}

/// A tsquery matching any of `terms`, exactly as stored (no parsing or stemming again).
fn any_of(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| format!("'{}'", t.lexeme.replace('\\', "\\\\").replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The best `limit` chunks, with their BM25 scores, among those that match the query and hold at
/// least one of the plan's candidate terms.
async fn rank_candidates(
    pool: &PgPool,
    keywords: &Keywords,
    plan: &Plan,
    mean_tokens: f64,
    vector: &[f32],
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<(ChunkHit, f64)>, Error> {
    let lexemes: Vec<&str> = plan.terms().iter().map(|t| t.lexeme.as_str()).collect();
    let idfs: Vec<f64> = plan.terms().iter().map(|t| t.idf).collect();
    let mut sql = QueryBuilder::new("WITH terms AS MATERIALIZED (SELECT * FROM unnest(");
    sql.push_bind(lexemes)
        .push("::text[], ")
        .push_bind(idfs)
        .push("::float8[]) AS t(lexeme, idf)), q AS MATERIALIZED (SELECT websearch_to_tsquery('english', ")
        .push_bind(keywords.any.clone())
        .push(")");
    if !keywords.exclude.is_empty() {
        sql.push(" && websearch_to_tsquery('english', ")
            .push_bind(keywords.exclude.clone())
            .push(")");
    }
    sql.push(" && ")
        .push_bind(any_of(plan.candidate_terms()))
        .push("::tsquery AS query), ");
    // Score the candidates, keep the best, and only then read their columns and vector distance.
    sql.push(format_args!(
        "ranked AS MATERIALIZED (\
           SELECT c.id, (\
             SELECT coalesce(sum(t.idf * f.tf * {k1_plus_1} \
                        / (f.tf + {K1} * (1 - {B} + {B} * c.token_count / ",
        k1_plus_1 = K1 + 1.0
    ));
    sql.push_bind(mean_tokens).push(
        "))), 0) \
             FROM unnest(c.search_vector) v JOIN terms t ON t.lexeme = v.lexeme, \
                  LATERAL (SELECT coalesce(array_length(v.positions, 1), 1) AS tf) f\
           ) AS score \
           FROM chunks c JOIN documents d ON d.id = c.document_id, q \
           WHERE c.search_vector @@ q.query AND",
    );
    push_searchable(&mut sql, filter);
    sql.push(" ORDER BY score DESC, c.id LIMIT ")
        .push_bind(limit as i64)
        .push(") SELECT ")
        .push(HIT_COLUMNS)
        .push(", r.score, c.embedding <=> ")
        .push_bind(Vector::from(vector.to_vec()))
        .push(
            " AS distance FROM ranked r JOIN chunks c ON c.id = r.id \
             JOIN documents d ON d.id = c.document_id ORDER BY r.score DESC, c.id",
        );
    sql.build()
        .fetch_all(pool)
        .await
        .and_then(|rows| {
            rows.iter()
                .map(|row| Ok((hit_from_row(row)?, row.try_get("score")?)))
                .collect()
        })
        .map_err(db_error)
}
