//! `ragbase migrate` and the start-up guard, against a real PostgreSQL with pgvector.

mod support;

use sqlx::Row;
use support::{Server, TestDb, run_ragbase};

#[tokio::test]
async fn migrations_apply_from_empty_and_are_rerunnable() {
    let db = TestDb::create().await;
    let env = [("DATABASE_URL", db.url.as_str())];
    let (ok, out) = run_ragbase(&["migrate"], &env).await;
    assert!(ok, "{out}");

    let mut conn = db.connect().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "chunk_lexemes",
            "chunk_totals",
            "chunks",
            "document_files",
            "documents"
        ]
    );
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE tablename = 'chunks'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(
        indexes
            .iter()
            .any(|d| d.contains("USING hnsw (embedding vector_cosine_ops)")),
        "{indexes:?}"
    );
    assert!(
        indexes
            .iter()
            .any(|d| d.contains("USING gin (search_vector)")),
        "{indexes:?}"
    );
    let embedding_type: String = sqlx::query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get(0);
    assert_eq!(embedding_type, "vector(384)");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();

    let (ok, out) = run_ragbase(&["migrate"], &env).await;
    assert!(ok, "a second run must succeed: {out}");
    let again: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(applied, again);
}

#[tokio::test]
async fn serve_refuses_an_unmigrated_database_unless_asked_to_migrate() {
    let db = TestDb::create().await;
    let env = [("DATABASE_URL", db.url.as_str())];
    let (ok, out) = run_ragbase(&["serve"], &env).await;
    assert!(!ok);
    assert!(
        out.contains("not migrated") && out.contains("ragbase migrate"),
        "{out}"
    );

    let server = Server::start(&["serve", "--migrate"], &env).await;
    let ready = reqwest::get(server.url("/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_naming_the_variable() {
    let (ok, out) = run_ragbase(&["serve"], &[("RATE_LIMIT_MAX", "lots")]).await;
    assert!(!ok);
    assert!(out.contains("RATE_LIMIT_MAX is invalid"), "{out}");
    // PostgreSQL without Redis: the jobs would have nowhere to go.
    let db = TestDb::create().await;
    let (ok, out) = run_ragbase(&["serve"], &[("DATABASE_URL", &db.url), ("REDIS_URL", "")]).await;
    assert!(!ok);
    assert!(out.contains("REDIS_URL is not set"), "{out}");
    // The embedded store's folder cannot be made under a file.
    let (ok, out) = run_ragbase(
        &["serve"],
        &[("RAGBASE_DATA_DIR", "/dev/null/data"), ("REDIS_URL", "")],
    )
    .await;
    assert!(!ok);
    assert!(
        out.contains("RAGBASE_DATA_DIR: cannot create /dev/null/data"),
        "{out}"
    );
}
