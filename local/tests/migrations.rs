//! `ragbase migrate` and the start-up guards, against a real PostgreSQL with pgvector: bad
//! settings and weak keys refused, an open API kept on loopback, the first log line's shape.

mod support;

use serde_json::Value;
use sqlx::Row;
use support::{Server, TestBackend, TestDb, run_ragbase};

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
            "document_events",
            "document_files",
            "documents",
            "processing_metrics",
            "processing_profiles"
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

#[tokio::test]
async fn a_weak_api_key_stops_start_up_with_the_way_to_make_one() {
    let folder = TestBackend::embedded();
    for (key, problem) in [
        ("tooshort", "is shorter than 16 characters"),
        ("   ,k7Qp2vX9mL4sT8wN1bR6yH3j", "key 1 of 2 is empty"),
        ("k7Qp2vX9mL4s\tT8wN1bR6yH3j", "contains whitespace"),
        (
            "change-me-api-key",
            "is a placeholder from the template or the docs",
        ),
    ] {
        let mut env = folder.env();
        env.push(("API_KEY", key));
        let (ok, out) = run_ragbase(&["serve"], &env).await;
        assert!(!ok, "started with API_KEY={key:?}");
        assert!(
            out.contains("API_KEY is invalid")
                && out.contains(problem)
                && out.contains("openssl rand -base64 32"),
            "{key:?}: {out}"
        );
    }
}

/// The first line a server logs, as JSON.
fn first_log_line(server: &Server) -> Value {
    serde_json::from_str(&server.logs.lock().unwrap()[0]).unwrap()
}

#[tokio::test]
async fn an_open_api_listens_on_loopback_and_says_so_in_its_first_line() {
    let folder = TestBackend::embedded();
    let open = Server::start(&[], &folder.env()).await;
    let line = first_log_line(&open);
    assert_eq!(line["level"], "warn", "{line}");
    assert!(
        line["addr"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    assert!(
        line["access"]
            .as_str()
            .unwrap()
            .contains("API_KEY is not set"),
        "{line}"
    );
    drop(open);

    let folder = TestBackend::embedded();
    let mut env = folder.env();
    env.push(("API_KEY", support::api::KEY));
    let keyed = Server::start(&[], &env).await;
    let line = first_log_line(&keyed);
    assert!(
        line["addr"].as_str().unwrap().starts_with("0.0.0.0:"),
        "{line}"
    );
    drop(keyed);

    let folder = TestBackend::embedded();
    let mut env = folder.env();
    env.push(("HOST", "0.0.0.0"));
    let exposed = Server::start(&[], &env).await;
    let line = first_log_line(&exposed);
    assert!(
        line["addr"].as_str().unwrap().starts_with("0.0.0.0:"),
        "{line}"
    );
    assert!(
        line["access"].as_str().unwrap().contains("open to anyone"),
        "{line}"
    );
}

#[tokio::test]
async fn the_first_production_log_line_has_level_time_and_msg() {
    let folder = TestBackend::embedded();
    let mut env = folder.env();
    env.push(("API_KEY", support::api::KEY));
    let server = Server::start(&["serve"], &env).await;
    let text = server.logs.lock().unwrap()[0].clone();
    assert!(text.starts_with(r#"{"level":"info","time":""#), "{text}");
    let line: Value = serde_json::from_str(&text).unwrap();
    let port = line["addr"].as_str().unwrap().rsplit_once(':').unwrap().1;
    assert_eq!(line["msg"], format!("Server running on port {port}"));
    let time = line["time"].as_str().unwrap();
    // RFC 3339 in UTC with milliseconds: 2025-12-19T21:21:11.123Z
    let (date, clock) = time.split_once('T').unwrap();
    assert_eq!((date.len(), clock.len()), (10, 13), "{time}");
    assert!(
        clock.ends_with('Z') && clock.as_bytes()[8] == b'.',
        "{time}"
    );
    assert_eq!(
        (&line["store"], &line["auth"]),
        (&"embedded".into(), &true.into())
    );
}
