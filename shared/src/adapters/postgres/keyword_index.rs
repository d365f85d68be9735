//! Keyword ranking by pg_textsearch's BM25 index (block-max WAND under `ORDER BY … LIMIT`), where
//! the database has it. The index ranks every chunk, so the ranked ids are fetched first, with no
//! `WHERE` (one on the index scan made it twice as slow), and only then filtered and read, the
//! window widening while filters remove too many.

use sqlx::{PgPool, QueryBuilder};
use uuid::Uuid;

use super::{
    PgStore,
    chunk_search::push_ranked_searchable,
    db_error,
    keyword_portable::{self, push_tsquery},
};
use crate::{
    Error,
    config::KeywordIndex,
    domain::query::{Keywords, SearchFilter},
};

const INDEX: &str = "chunks_content_bm25_idx";

/// Creates the extension and the index (`INDEX`) where the server offers pg_textsearch (it must
/// be in `shared_preload_libraries`). Idempotent, and run after every migration, so a server
/// that gains the extension later gets the index too.
pub(super) const ENSURE_INDEX: &str = "DO $$ BEGIN \
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_textsearch') \
       AND 'pg_textsearch' = ANY (string_to_array( \
             replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) THEN \
        CREATE EXTENSION IF NOT EXISTS pg_textsearch; \
        CREATE INDEX IF NOT EXISTS chunks_content_bm25_idx ON chunks \
            USING bm25 (content) WITH (text_config = 'english'); \
    END IF; END $$";

/// The keyword ranking a store uses, decided once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordPath {
    Bm25,
    Portable,
}

impl KeywordPath {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bm25 => "bm25",
            Self::Portable => "portable",
        }
    }
}

impl PgStore {
    /// The path `KEYWORD_INDEX` asks for, given whether this database has the BM25 index;
    /// logged and exported as `keyword_index_info{path}` the first time it is decided.
    pub async fn keyword_path(&self) -> Result<KeywordPath, Error> {
        let decide = || async {
            let has_index: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_indexes \
                 WHERE schemaname = current_schema() AND indexname = $1)",
            )
            .bind(INDEX)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
            let path = choose(self.keyword_index, has_index)?;
            tracing::info!(
                keyword_index = path.as_str(),
                requested = ?self.keyword_index,
                has_index,
                "keyword ranking: {}",
                match path {
                    KeywordPath::Bm25 => "pg_textsearch's BM25 index",
                    KeywordPath::Portable => "BM25 in SQL over the chunks' tsvector",
                }
            );
            metrics::gauge!(crate::telemetry::KEYWORD_INDEX_INFO, "path" => path.as_str()).set(1.0);
            Ok(path)
        };
        self.keyword_path.get_or_try_init(decide).await.copied()
    }
}

fn choose(requested: KeywordIndex, has_index: bool) -> Result<KeywordPath, Error> {
    match (requested, has_index) {
        (KeywordIndex::Portable, _) | (KeywordIndex::Auto, false) => Ok(KeywordPath::Portable),
        (KeywordIndex::Bm25 | KeywordIndex::Auto, true) => Ok(KeywordPath::Bm25),
        (KeywordIndex::Bm25, false) => Err(Error::Config(format!(
            "KEYWORD_INDEX=bm25, but the database has no index {INDEX}: load pg_textsearch \
             (shared_preload_libraries) and run `ragbase migrate`, or set KEYWORD_INDEX=auto"
        ))),
    }
}

/// Rows the first fetch asks the index for, as a multiple of the limit, and the widest window
/// before the portable ranking takes over (filters that keep few chunks).
const FIRST_WINDOW: usize = 2;
const WIDEST_WINDOW: usize = 128;

pub(super) async fn by_bm25(
    store: &PgStore,
    keywords: &Keywords,
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<Uuid>, Error> {
    // A few named documents hold few chunks: ranking those alone beats widening the window.
    if filter.document_ids.is_some() {
        return keyword_portable::by_keywords(store, keywords, filter, limit).await;
    }
    let pool = &store.pool;
    let words = string_literal(&keywords.any.join(" "));
    let mut window = limit * FIRST_WINDOW;
    loop {
        // Literals, not parameters: with the question or the limit as a parameter the index
        // scores every match (130 ms instead of 7 at 100k chunks).
        let ranked: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM chunks ORDER BY content <@> to_bm25query({words}, '{INDEX}') \
             LIMIT {window}"
        )))
        .persistent(false)
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
        let hits = searchable_among(pool, &ranked, keywords, filter, limit).await?;
        if hits.len() >= limit || ranked.len() < window {
            return Ok(hits);
        }
        if window >= limit * WIDEST_WINDOW {
            return keyword_portable::by_keywords(store, keywords, filter, limit).await;
        }
        window *= 4;
    }
}

/// `text` as an SQL string literal (the pool's sessions have `standard_conforming_strings` on,
/// so only quotes need doubling; NUL cannot be in a PostgreSQL string).
fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''").replace('\0', ""))
}

/// The ranked chunks that match the keywords (phrases as phrases, exclusions excluded) and
/// that searches may read, in rank order.
async fn searchable_among(
    pool: &PgPool,
    ranked: &[Uuid],
    keywords: &Keywords,
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<Uuid>, Error> {
    let mut sql = QueryBuilder::new("SELECT c.id");
    push_ranked_searchable(&mut sql, ranked, filter);
    sql.push(" AND c.search_vector @@ (");
    push_tsquery(&mut sql, keywords);
    sql.push(") ORDER BY r.rank LIMIT ").push_bind(limit as i64);
    sql.build_query_scalar()
        .fetch_all(pool)
        .await
        .map_err(db_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_the_index_where_it_exists_and_bm25_requires_it() {
        assert_eq!(choose(KeywordIndex::Auto, true).unwrap(), KeywordPath::Bm25);
        assert_eq!(
            choose(KeywordIndex::Auto, false).unwrap(),
            KeywordPath::Portable
        );
        assert_eq!(
            choose(KeywordIndex::Portable, true).unwrap(),
            KeywordPath::Portable
        );
        let refusal = choose(KeywordIndex::Bm25, false).unwrap_err().to_string();
        assert!(refusal.contains("KEYWORD_INDEX=bm25"), "{refusal}");
    }

    #[test]
    fn questions_become_literals_that_cannot_close_early() {
        assert_eq!(
            string_literal(r"it's a\b'; DROP TABLE chunks; --"),
            r"'it''s a\b''; DROP TABLE chunks; --'"
        );
        assert_eq!(string_literal("nul\0byte"), "'nulbyte'");
    }
}
