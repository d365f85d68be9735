//! Keyword ranking in plain SQL, for PostgreSQL without a BM25 index (Amazon RDS and Aurora
//! cannot load one): BM25 over the chunks' tsvector, with the corpus statistics the triggers keep.

use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{PgStore, chunk_search::push_searchable, db_error};
use crate::{
    Error,
    domain::query::{Keywords, SearchFilter},
};

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

/// The tsquery a chunk must match: any alternative, and none of the exclusions.
pub(super) fn push_tsquery(sql: &mut QueryBuilder<Postgres>, keywords: &Keywords) {
    let (any, exclude) = websearch(keywords);
    sql.push("websearch_to_tsquery('english', ")
        .push_bind(any)
        .push(")");
    if !exclude.is_empty() {
        sql.push(" && websearch_to_tsquery('english', ")
            .push_bind(exclude)
            .push(")");
    }
}

/// BM25's term-frequency saturation and length normalisation, at their customary values.
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;

/// The ids of the chunks matching the websearch query, ranked by BM25 over the query's lexemes: `ts_rank_cd`
/// has no inverse document frequency, so a question's common words outweighed its telling ones
/// (Cranfield nDCG@10: 0.36 with `ts_rank_cd`, 0.51 with BM25; see docs/BENCHMARKS.md).
///
/// At most `KEYWORD_CANDIDATES` chunks are scored: those holding the question's rarest lexemes, as many
/// lexemes as fit (the rarest always), which bounds the work at any size. The best matches
/// almost always hold a rare word; docs/BENCHMARKS.md says how often the top 100 agree with
/// scoring every match.
pub(super) async fn by_keywords(
    store: &PgStore,
    keywords: &Keywords,
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<Uuid>, Error> {
    let mut sql = QueryBuilder::new(
        "WITH corpus AS MATERIALIZED (\
           SELECT chunks, tokens::float8 / greatest(chunks, 1) AS mean_tokens FROM chunk_totals), \
         terms AS MATERIALIZED (\
           SELECT t.lexeme, coalesce(s.chunks, 0) AS df, \
                  ln(1 + (corpus.chunks - coalesce(s.chunks, 0) + 0.5) \
                         / (coalesce(s.chunks, 0) + 0.5)) AS idf \
           FROM unnest(tsvector_to_array(to_tsvector('english', ",
    );
    let (any, _) = websearch(keywords);
    // Named documents bound the candidates themselves; elsewhere the rarest lexemes do.
    let cap = if filter.document_ids.is_some() {
        i64::MAX
    } else {
        store.keyword_candidates
    };
    sql.push_bind(any).push(
        "))) AS t(lexeme) CROSS JOIN corpus LEFT JOIN chunk_lexemes s ON s.lexeme = t.lexeme), \
         rare AS MATERIALIZED (\
           SELECT coalesce(string_agg(format('''%s''', \
                    replace(replace(lexeme, '\\', '\\\\'), '''', '''''')), ' | '), '')::tsquery AS query \
           FROM (SELECT lexeme, df, sum(df) OVER (ORDER BY df, lexeme) AS running \
                 FROM terms WHERE df > 0) t \
           WHERE running = df OR running <= ",
    );
    sql.push_bind(cap).push(
        "), lexemes AS MATERIALIZED (SELECT array_agg(lexeme) AS list FROM terms), \
         q AS MATERIALIZED (SELECT ",
    );
    push_tsquery(&mut sql, keywords);
    // A candidate's tsvector is cut down to the question's lexemes in C (mark them with weight A,
    // keep the A's) before SQL reads their frequencies: unnesting every lexeme cost three times
    // as much at 1M chunks. The full query is a filter (`ts_match_vq`), not a GIN condition:
    // the rare lexemes alone pick the candidates, and the common ones' posting lists stay unread.
    sql.push(format_args!(
        " AS query) \
           SELECT s.id FROM (SELECT c.id, (\
             SELECT sum(t.idf * f.tf * {k1_plus_1} \
                        / (f.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * c.token_count / corpus.mean_tokens))) \
             FROM unnest(ts_filter(setweight(setweight(c.search_vector, 'D'), 'A', lexemes.list), '{{a}}')) v \
                  JOIN terms t ON t.lexeme = v.lexeme, \
                  LATERAL (SELECT coalesce(array_length(v.positions, 1), 1) AS tf) f\
           ) AS score \
           FROM chunks c JOIN documents d ON d.id = c.document_id, q, rare, corpus, lexemes \
           WHERE c.search_vector @@ rare.query AND ts_match_vq(c.search_vector, q.query) AND",
        k1_plus_1 = BM25_K1 + 1.0
    ));
    push_searchable(&mut sql, filter);
    sql.push(") s ORDER BY s.score DESC, s.id LIMIT ")
        .push_bind(limit as i64);
    sql.build_query_scalar()
        .fetch_all(&store.pool)
        .await
        .map_err(db_error)
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
