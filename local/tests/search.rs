//! `POST /api/query` over HTTP against real PostgreSQL with pgvector, Redis and the real model:
//! the right passage comes first, only COMPLETED active documents are ever returned, filters hold.

mod support;

use std::time::Duration;

use pgvector::Vector;
use ragbase::{adapters::onnx_embedder::OnnxEmbedder, ports::Embedder};
use reqwest::Method;
use serde_json::{Value, json};
use support::{TestBackend, api::Api, model_dir, on_each_backend};

const WINGS: &str = "# Wing aerodynamics\n\n## Stall\n\nAt high angles of attack the boundary layer \
separates from the upper surface of the wing, lift collapses and the aircraft stalls. Vortex \
generators delay the separation.\n";
const BREAD: &str = "Baking bread at home\n\nKnead the dough of flour, water, salt and yeast \
until it is smooth, let it rise for two hours, then bake it in a hot oven until the crust is brown.\n";
const ROCKETS: &str = "# Rocket engines\n\nA liquid rocket engine burns fuel with an oxidiser in \
its combustion chamber; the nozzle expands the hot gas to produce thrust in the vacuum of space.\n";

async fn query(api: &Api, body: Value) -> Vec<Value> {
    let (status, reply) = api.send(Method::POST, "/api/query", &body).await;
    assert_eq!(status, 200, "{body} → {reply}");
    assert_eq!(
        reply["mode"],
        body.get("mode").cloned().unwrap_or(json!("semantic"))
    );
    reply["results"].as_array().unwrap().clone()
}

fn document_ids(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["documentId"].as_str().unwrap())
        .collect()
}

on_each_backend!(keyword_paths: the_right_passage_comes_first_and_hidden_documents_never_come_back);

async fn the_right_passage_comes_first_and_hidden_documents_never_come_back(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let mut ids = Vec::new();
    for (name, text) in [
        ("wings.md", WINGS),
        ("bread.txt", BREAD),
        ("rockets.md", ROCKETS),
    ] {
        let (status, body) = api.upload(name, text.as_bytes().to_vec()).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (wings, bread, rockets) = (&ids[0], &ids[1], &ids[2]);
    api.settle(Duration::from_secs(120)).await;

    let stall = "why does an aircraft stall when the angle of attack is too high?";
    let results = query(&api, json!({"query": stall, "topK": 3})).await;
    assert_eq!(results.len(), 3);
    let best = &results[0];
    assert_eq!(best["documentId"], json!(wings));
    assert_eq!(best["filename"], "wings.md");
    assert!(best["content"].as_str().unwrap().contains("boundary layer"));
    assert_eq!(best["metadata"]["heading"], "Stall");
    assert_eq!(
        best["metadata"]["breadcrumbs"],
        json!(["Wing aerodynamics", "Stall"])
    );
    for field in ["charStart", "charEnd", "chunkIndex"] {
        assert!(best["metadata"][field].is_i64(), "{field}: {best}");
    }
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(scores[0] > 0.4 && scores[0] <= 1.0, "{scores:?}");
    // The original's clients tell the modes apart by the hybrid parts.
    assert!(
        results
            .iter()
            .all(|r| r.get("vectorScore").is_none() && r.get("keywordScore").is_none())
    );

    let hybrid = query(
        &api,
        json!({"query": "yeast dough", "mode": "hybrid", "topK": 3}),
    )
    .await;
    assert_eq!(hybrid[0]["documentId"], json!(bread));
    // Fused scores: alpha/(60+1) + (1-alpha)/(60+1) at most.
    assert!(hybrid[0]["score"].as_f64().unwrap() <= 1.0 / 61.0 + 1e-9);
    // Each result tells its rank in each list; the fused score weighs them by alpha.
    let (status, answer) = api
        .send(
            Method::POST,
            "/api/query",
            &json!({"query": "yeast dough", "mode": "hybrid", "topK": 3, "alpha": 0.5}),
        )
        .await;
    assert_eq!((status, &answer["alpha"]), (200, &json!(0.5)), "{answer}");
    let top = &answer["results"][0];
    let (vector, keyword) = (
        top["vectorScore"].as_f64().unwrap(),
        top["keywordScore"].as_f64().unwrap(),
    );
    assert_eq!(keyword, 1.0 / 61.0, "{top}");
    assert!(
        (top["score"].as_f64().unwrap() - (0.5 * vector + 0.5 * keyword)).abs() < 1e-12,
        "{top}"
    );
    let (_, default) = api
        .send(
            Method::POST,
            "/api/query",
            &json!({"query": "yeast", "mode": "hybrid"}),
        )
        .await;
    assert_eq!(default["alpha"], 0.7);

    // Filters: by document, by format, and a similarity floor.
    let only_rockets = query(
        &api,
        json!({"query": stall, "topK": 5, "mode": "hybrid", "documentIds": [rockets]}),
    )
    .await;
    assert!(!only_rockets.is_empty());
    assert!(document_ids(&only_rockets).iter().all(|id| id == rockets));
    let text_only = query(&api, json!({"query": stall, "topK": 5, "formats": ["txt"]})).await;
    assert!(!text_only.is_empty());
    assert!(document_ids(&text_only).iter().all(|id| id == bread));
    let close = query(&api, json!({"query": stall, "topK": 5, "minScore": 0.4})).await;
    assert_eq!(document_ids(&close), vec![wings.as_str()]);

    // A disabled document vanishes from both modes at once, and comes back when enabled.
    let availability = format!("/api/documents/{wings}/availability");
    let (status, _) = api
        .send(Method::PATCH, &availability, &json!({"isActive": false}))
        .await;
    assert_eq!(status, 200);
    for mode in ["semantic", "hybrid"] {
        let results = query(&api, json!({"query": stall, "topK": 100, "mode": mode})).await;
        assert!(!document_ids(&results).contains(&wings.as_str()), "{mode}");
        assert!(!results.is_empty());
    }
    api.send(Method::PATCH, &availability, &json!({"isActive": true}))
        .await;
    let results = query(&api, json!({"query": stall, "topK": 1})).await;
    assert_eq!(results[0]["documentId"], json!(wings));

    // A deleted document's chunks are gone with it.
    let (status, _) = api
        .send(
            Method::DELETE,
            &format!("/api/documents/{bread}"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    for mode in ["semantic", "hybrid"] {
        let results = query(
            &api,
            json!({"query": "yeast dough", "topK": 100, "mode": mode}),
        )
        .await;
        assert!(!document_ids(&results).contains(&bread.as_str()), "{mode}");
    }

    // BM25's statistics followed every insert and the delete.
    assert!(backend.keyword_index_is_consistent().await);

    // Validation errors have the contract's body.
    for body in [
        json!({"query": ""}),
        json!({"query": "x".repeat(1001)}),
        json!({"query": "q", "topK": 101}),
        json!({"query": "q", "mode": "keyword"}),
        json!({"query": "q", "alpha": 2}),
        json!({"query": "q", "formats": ["exe"]}),
    ] {
        let (status, reply) = api.send(Method::POST, "/api/query", &body).await;
        assert_eq!(
            (status, &reply["error"]),
            (400, &json!("VALIDATION_ERROR")),
            "{body}"
        );
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, reply) = api.get("/api/query").await;
    assert_eq!(
        (status, &reply["error"]),
        (405, &json!("METHOD_NOT_ALLOWED"))
    );
}

/// Thousands of chunks nearer the query than any the filter allows: the HNSW walk alone, with a
/// tiny `ef_search`, would find none of the allowed ones; iterative scans must still fill `topK`.
/// Their text holds the question's words too, so the BM25 index's first windows hold none of
/// the allowed chunks either. (PostgreSQL only: the embedded store's search is exact.)
#[tokio::test]
async fn filtered_searches_still_fill_top_k() {
    filtered_searches_fill_top_k(TestBackend::postgres().await).await;
}

#[tokio::test]
async fn filtered_searches_still_fill_top_k_on_portable_keywords() {
    filtered_searches_fill_top_k(TestBackend::postgres_portable().await).await;
}

async fn filtered_searches_fill_top_k(backend: TestBackend) {
    let TestBackend::Postgres(db) = &backend else {
        unreachable!()
    };
    let api = Api::start(&backend, &[("HNSW_EF_SEARCH", "10")]).await;
    let question = "alpha beta gamma";
    let near = OnnxEmbedder::load(model_dir().as_ref(), 1)
        .unwrap()
        .embed(&[question])
        .unwrap()[0]
        .clone();
    let far: Vec<f32> = near.iter().map(|x| -x).collect();
    // The crowd: 3,000 text chunks around the query's own vector. Allowed: one Markdown document
    // of 30 chunks around the opposite vector, the farthest there is.
    sqlx::raw_sql(
        "INSERT INTO documents (id, filename, format, file_size, content_hash, status) VALUES \
           ('00000000-0000-0000-0000-000000000001', 'crowd.txt', 'txt', 1, sha256('crowd'), 'COMPLETED'), \
           ('00000000-0000-0000-0000-000000000002', 'allowed.md', 'md', 1, sha256('allowed'), 'COMPLETED')",
    )
    .execute(&mut db.connect().await)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO chunks (id, document_id, chunk_index, content, embedding, char_start, char_end, token_count) \
         SELECT gen_random_uuid(), \
                CASE WHEN i <= 3000 THEN '00000000-0000-0000-0000-000000000001'::uuid \
                     ELSE '00000000-0000-0000-0000-000000000002'::uuid END, \
                i, CASE WHEN i <= 3000 THEN 'alpha beta gamma alpha beta crowd ' ELSE 'alpha beta ' END || i, \
                CASE WHEN i <= 3000 THEN $1 ELSE $2 END \
                  + (SELECT array_agg(random() * 0.02 - 0.01)::vector FROM generate_series(1, 384) WHERE i > 0), \
                0, 1, 1 \
         FROM generate_series(1, 3030) i",
    )
    .bind(Vector::from(near))
    .bind(Vector::from(far))
    .execute(&mut db.connect().await)
    .await
    .unwrap();
    sqlx::raw_sql("ANALYZE chunks; ANALYZE documents")
        .execute(&mut db.connect().await)
        .await
        .unwrap();

    for filter in [
        json!({"formats": ["markdown"]}),
        json!({"documentIds": ["00000000-0000-0000-0000-000000000002"]}),
    ] {
        for mode in ["semantic", "hybrid"] {
            let mut body = json!({"query": question, "topK": 25, "mode": mode});
            body.as_object_mut()
                .unwrap()
                .extend(filter.as_object().unwrap().clone());
            let results = query(&api, body.clone()).await;
            assert_eq!(results.len(), 25, "{body}");
            assert!(
                results.iter().all(|r| r["filename"] == "allowed.md"),
                "{body}"
            );
        }
    }
}

/// 2,300 chunks whose words "lift" and "drag" recur 1–9 and 1–5 times; the 1,500 with the most
/// "lift" belong to a disabled document, the rest alternate between a Markdown and a text one.
async fn insert_lift_and_drag(conn: &mut sqlx::PgConnection) {
    sqlx::raw_sql(
        "INSERT INTO documents (id, filename, format, file_size, content_hash, status, is_active) VALUES \
           ('00000000-0000-0000-0000-00000000000a', 'hidden.txt', 'txt', 1, sha256('a'), 'COMPLETED', false), \
           ('00000000-0000-0000-0000-00000000000b', 'notes.md', 'md', 1, sha256('b'), 'COMPLETED', true), \
           ('00000000-0000-0000-0000-00000000000c', 'other.txt', 'txt', 1, sha256('c'), 'COMPLETED', true); \
         INSERT INTO chunks (id, document_id, chunk_index, content, embedding, char_start, char_end, token_count) \
         SELECT gen_random_uuid(), \
                CASE WHEN i <= 1500 THEN '00000000-0000-0000-0000-00000000000a'::uuid \
                     WHEN i % 2 = 0 THEN '00000000-0000-0000-0000-00000000000b'::uuid \
                     ELSE '00000000-0000-0000-0000-00000000000c'::uuid END, \
                i, \
                repeat('lift ', CASE WHEN i <= 1500 THEN 9 ELSE i % 7 + 1 END) \
                  || repeat('drag ', i % 5 + 1) || repeat('filler ', i % 11) || i, \
                (SELECT array_agg(random() - 0.5)::vector FROM generate_series(1, 384) WHERE i > 0), \
                0, 1, 10 + i % 13 \
         FROM generate_series(1, 2300) i; \
         ANALYZE chunks; ANALYZE documents",
    )
    .execute(conn)
    .await
    .unwrap();
}

/// The keyword ranks of "lift drag" among the Markdown chunks (`topK` 100, keywords alone) on
/// `backend`, against the best 100 Markdown chunks by `score` (SQL over `chunks c`, lower is
/// better): equal rank by rank (equal scores may come in either order; the scores may not differ).
async fn assert_keyword_ranks_are(backend: TestBackend, score: &str) {
    let TestBackend::Postgres(db) = &backend else {
        unreachable!()
    };
    let api = Api::start(&backend, &[]).await;
    let mut conn = db.connect().await;
    insert_lift_and_drag(&mut conn).await;
    let body =
        json!({"query": "lift drag", "mode": "hybrid", "alpha": 0, "topK": 100, "formats": ["md"]});
    let ids: Vec<uuid::Uuid> = query(&api, body)
        .await
        .iter()
        .map(|r| r["chunkId"].as_str().unwrap().parse().unwrap())
        .collect();
    let exact: Vec<f64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {score} AS s FROM chunks c JOIN documents d ON d.id = c.document_id \
         WHERE d.format = 'md' AND d.is_active ORDER BY s LIMIT 100"
    )))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let returned: Vec<f64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {score} FROM unnest($1::uuid[]) WITH ORDINALITY r(id, n) JOIN chunks c ON c.id = r.id \
         ORDER BY r.n"
    )))
    .bind(&ids)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(returned.len(), 100);
    let differ = |a: &f64, b: &f64| (a - b).abs() > 1e-9;
    assert!(
        !returned.iter().zip(&exact).any(|(a, b)| differ(a, b)),
        "returned {returned:?}\nexact {exact:?}"
    );
}

/// The keyword side on pg_textsearch's index is the index's own BM25 ranking of the chunks that
/// the filters allow, though the best-ranked chunks belong to a disabled document and to another
/// format (the first windows of ranked ids hold none that the filters allow).
#[tokio::test]
async fn bm25_keyword_ranks_are_the_index_ranks_after_filters() {
    // Scored outside the index (`+ 0`).
    let score = "(c.content <@> to_bm25query('lift drag', 'chunks_content_bm25_idx')) + 0";
    assert_keyword_ranks_are(TestBackend::postgres().await, score).await;
}

/// The portable ranking is BM25 (k1 1.2, b 0.75) over each word's count in the text, the chunks
/// per word the triggers keep, and the token counts: written out here without full-text search.
#[tokio::test]
async fn portable_keyword_ranks_are_bm25_over_the_word_counts() {
    let score = "-(SELECT sum(ln(1 + (n.chunks - w.chunks + 0.5) / (w.chunks + 0.5)) * tf * 2.2 \
                   / (tf + 1.2 * (0.25 + 0.75 * c.token_count * n.chunks / n.tokens))) \
                 FROM chunk_totals n, chunk_lexemes w, \
                      LATERAL (SELECT regexp_count(c.content, '\\m' || w.lexeme || '\\M')::float8 AS tf) t \
                 WHERE w.lexeme IN ('lift', 'drag'))";
    assert_keyword_ranks_are(TestBackend::postgres_portable().await, score).await;
}

/// The portable ranking scores only the chunks holding the question's rarest words, as many as
/// `KEYWORD_CANDIDATES` allows: with a small bound, chunks with only the common word are never
/// candidates; with a large one, every match is.
#[tokio::test]
async fn the_portable_ranking_scores_the_holders_of_the_rarest_words_first() {
    let backend = TestBackend::postgres_portable().await;
    let TestBackend::Postgres(db) = &backend else {
        unreachable!()
    };
    Api::migrate(&backend).await;
    sqlx::raw_sql(
        "INSERT INTO documents (id, filename, format, file_size, content_hash, status) VALUES \
           ('00000000-0000-0000-0000-00000000000d', 'words.txt', 'txt', 1, sha256('d'), 'COMPLETED'); \
         INSERT INTO chunks (id, document_id, chunk_index, content, embedding, char_start, char_end, token_count) \
         SELECT gen_random_uuid(), '00000000-0000-0000-0000-00000000000d', i, \
                CASE WHEN i <= 40 THEN 'turbine blade ' ELSE 'blade ' END || i, \
                (SELECT array_agg(random() - 0.5)::vector FROM generate_series(1, 384) WHERE i > 0), 0, 1, 3 \
         FROM generate_series(1, 1000) i",
    )
    .execute(&mut db.connect().await)
    .await
    .unwrap();
    let body = json!({"query": "turbine blade", "mode": "hybrid", "alpha": 0, "topK": 100});
    let keyword_hits = |results: Vec<Value>| {
        results
            .iter()
            .filter(|r| r["keywordScore"].as_f64().unwrap() > 0.0)
            .count()
    };
    let bounded = Api::start(&backend, &[("KEYWORD_CANDIDATES", "100")]).await;
    assert_eq!(keyword_hits(query(&bounded, body.clone()).await), 40);
    drop(bounded);
    let wide = Api::start(&backend, &[("KEYWORD_CANDIDATES", "5000")]).await;
    assert_eq!(keyword_hits(query(&wide, body).await), 100);
}
