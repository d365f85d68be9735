//! Search on PostgreSQL: pgvector's HNSW index for similarity; for keywords, pg_textsearch's BM25
//! index where the database has it (`keyword_index`), else BM25 in SQL over the chunks' tsvector
//! (`keyword_portable`). Only chunks of COMPLETED, active documents are ever read.

use pgvector::Vector;
use sqlx::{PgPool, Postgres, QueryBuilder, Row, postgres::PgRow};
use uuid::Uuid;

use async_trait::async_trait;

use super::{
    PgStore, db_error,
    keyword_index::{KeywordPath, by_bm25},
    keyword_portable::by_keywords,
    rows::hit_from_row,
};
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
pub(super) fn hit_with_distance(row: &PgRow) -> Result<ChunkHit, sqlx::Error> {
    let distance: f64 = row.try_get("distance")?;
    hit_from_row(row, (1.0 - distance) as f32)
}

/// The `HIT_COLUMNS` and their cosine `distance` to `vector`, as `hit_with_distance` reads them.
pub(super) fn push_hit_columns(sql: &mut QueryBuilder<Postgres>, vector: &[f32]) {
    sql.push(HIT_COLUMNS)
        .push(", c.embedding <=> ")
        .push_bind(Vector::from(vector.to_vec()))
        .push(" AS distance");
}

/// ` FROM` the chunks with `ids` (and their documents), numbered `r.rank` in the ids' order,
/// then the searchable rule and `filter`: `ORDER BY r.rank` keeps a ranking's order.
pub(super) fn push_ranked_searchable(
    sql: &mut QueryBuilder<Postgres>,
    ids: &[Uuid],
    filter: &SearchFilter,
) {
    sql.push(" FROM unnest(").push_bind(ids.to_vec()).push(
        "::uuid[]) WITH ORDINALITY AS r(id, rank) JOIN chunks c ON c.id = r.id \
         JOIN documents d ON d.id = c.document_id WHERE",
    );
    push_searchable(sql, filter);
}

/// The rule every search obeys, then the request's own filters.
pub(super) fn push_searchable(sql: &mut QueryBuilder<Postgres>, filter: &SearchFilter) {
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

pub(super) async fn fetch_hits(
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
    // The index walk yields rows in roughly nearest-first order (iterative scans, relaxed order,
    // so filters never starve the result); the outer sort makes the order exact.
    let mut sql = QueryBuilder::new("WITH nearest AS MATERIALIZED (SELECT ");
    push_hit_columns(&mut sql, vector);
    sql.push(" FROM chunks c JOIN documents d ON d.id = c.document_id WHERE");
    push_searchable(&mut sql, filter);
    sql.push(" ORDER BY c.embedding <=> ")
        .push_bind(Vector::from(vector.to_vec()))
        .push(" LIMIT ")
        .push_bind(limit as i64)
        .push(") SELECT * FROM nearest ORDER BY distance, id");
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

    async fn keyword_ranking(
        &self,
        keywords: &Keywords,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<Uuid>, Error> {
        if keywords.any.is_empty() {
            return Ok(Vec::new()); // only exclusions: nothing to rank
        }
        let path = self.keyword_path().await?;
        match path {
            KeywordPath::Bm25 => by_bm25(self, keywords, filter, limit).await,
            KeywordPath::Portable => by_keywords(self, keywords, filter, limit).await,
        }
    }

    async fn chunks_by_id(&self, ids: &[Uuid], vector: &[f32]) -> Result<Vec<ChunkHit>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::new("SELECT ");
        push_hit_columns(&mut sql, vector);
        push_ranked_searchable(&mut sql, ids, &SearchFilter::default());
        sql.push(" ORDER BY r.rank");
        fetch_hits(&self.pool, sql).await
    }
}
