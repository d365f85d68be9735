//! Bounds that keep one slow or hostile caller from holding the server's resources for good,
//! against the real PostgreSQL.

mod support;

use std::time::Duration;

use ragbase::{adapters::postgres::PgStore, ports::DocumentStore};
use support::TestDb;

/// A statement stuck behind a lock (or just slow) is cancelled at `DATABASE_STATEMENT_TIMEOUT_MS`
/// and answers an error, instead of holding one of the pool's connections until it ends.
#[tokio::test]
async fn a_statement_stuck_on_a_lock_is_cancelled_at_the_statement_timeout() {
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.url, 40, Duration::from_millis(500)).unwrap();
    store.migrate().await.unwrap();
    let id = uuid::Uuid::new_v4();
    let mut holder = db.connect().await;
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query(
        "INSERT INTO documents (id, filename, format, file_size, content_hash) \
         VALUES ($1, 'held.txt', 'text', 1, sha256('held'::bytea))",
    )
    .bind(id)
    .execute(&mut holder)
    .await
    .unwrap();
    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM documents WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut holder)
        .await
        .unwrap();

    let waited = tokio::time::timeout(Duration::from_secs(10), store.set_availability(id, false));
    let answer = waited
        .await
        .expect("the statement was cancelled, not left waiting");
    let error = answer.unwrap_err().to_string();
    assert!(error.contains("statement timeout"), "{error}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    assert!(!store.set_availability(id, false).await.unwrap().is_active);
}

fn resident_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

/// A dozen 40 MB uploads at once: they take turns within `UPLOAD_MEMORY_MB` (256 by default),
/// so the server's memory grows by at most that much, and every one is stored or told to retry.
#[tokio::test]
async fn concurrent_large_uploads_stay_within_the_upload_memory() {
    let backend = support::TestBackend::embedded();
    let api = support::api::Api {
        server: support::Server::start(&["serve", "--no-worker"], &backend.env()).await,
        client: reqwest::Client::new(),
    };
    let pid = api.server.pid();
    let before = resident_mib(pid, "VmRSS:");
    let mut uploads = tokio::task::JoinSet::new();
    for n in 0..12 {
        let mut bytes = format!("upload {n} {}\n", uuid::Uuid::new_v4()).into_bytes();
        bytes.resize(40 * 1024 * 1024, b'a');
        let (client, url) = (api.client.clone(), api.server.url("/api/documents"));
        uploads.spawn(async move {
            let part = reqwest::multipart::Part::bytes(bytes).file_name(format!("big-{n}.txt"));
            let form = reqwest::multipart::Form::new().part("file", part);
            client
                .post(url)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let answers = uploads.join_all().await;
    let peak = resident_mib(pid, "VmHWM:");
    eprintln!("12 uploads of 40 MB: RSS {before} MiB before, peak {peak} MiB; answers {answers:?}");
    assert!(
        answers.iter().all(|a| *a == 201 || *a == 503),
        "{answers:?}"
    );
    assert!(answers.contains(&201), "{answers:?}");
    assert!(
        peak - before <= 256,
        "grew from {before} MiB to a peak of {peak} MiB"
    );
    assert_eq!(api.get("/health").await.0, 200);
}
